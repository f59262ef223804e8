"""CPU cost of the main job's cells before and after sizing it, per epoch, in one run.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/main_job.py [--epochs 2]

Trains one cell of every model kind of ``experiments/ablation.toml`` (GAIN-MTL S1 and S5,
CATS, ConvNeXt-Atto, the EfficientNet) for ``--epochs`` epochs twice in this process: with
the previous sizing (400 training images, EfficientNet-B0 and a B0 patch encoder from
scratch) and with the current file's (its image counts, Lite0 weights). Each cell's CPU
time (``time.process_time``, so other work on the machine does not count) is divided by
its epochs (so a cell's fixed work, test predictions and maps, counts once per epoch
here: both sides are overstated alike); the matrix totals (previous: 10 epochs, current: the file's epochs; 2 seeds;
S1-S6 counted as S1 for S1-S2 and S5 for S3-S6) give the ratio of the two main jobs' cell
work, and with the 19 min 09 s the previous main job took on an idle machine, an estimate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tomllib
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
PREVIOUS_WALL_MINUTES = 19 + 9 / 60  # harness run experiments/ablation.toml before, idle 2-core machine

GAIN = 'plugin = "gain-mtl"\nbackbone = "resnet10t"\nfpn_channels = 32\nhidden = 64\nhead_channels = 32\n'
CATS = ('plugin = "cats"\nimg_size = 64\npatch_size = 16\nfeatured_patch_dim = 24\nemb_dim = 24\nnum_heads = 2\n'
        'num_decoder_layers = 2\n')
BLOCKS = {
    "previous": [GAIN + 'strategy = ["S1", "S5"]', CATS + 'cnn_feature_extractor = "efficientnet_b0_feat2"',
                 'plugin = "timm"\narch = ["convnext_atto", "efficientnet_b0"]'],
    "current": [GAIN + 'strategy = ["S1", "S5"]',
                CATS + 'cnn_feature_extractor = "tf_efficientnet_lite0_feat2"\npretrained = true',
                'plugin = "timm"\nname = "convnext_atto"\narch = "convnext_atto"',
                'plugin = "timm"\nname = "lite0"\narch = "tf_efficientnet_lite0"\npretrained = true'],
}
KIND = {"gain-mtl-strategy-s1": "S1", "gain-mtl-strategy-s5": "S5", "cats": "cats", "timm-arch-convnext": "convnext",
        "convnext": "convnext", "timm-arch-efficientnet": "effnet", "lite0": "effnet"}
CELLS = {"S1": 4, "S5": 8, "cats": 2, "convnext": 2, "effnet": 2}  # per matrix: S1-S2 and S3-S6, two seeds


def experiment_text(name: str, sizes: dict[str, int], epochs: int) -> str:
    models = "\n".join(f"[[matrix.model]]\n{b}\n" for b in BLOCKS[name])
    return f"""
[experiment]
name = "{name}"
seeds = [0]
rank_by = "test.recall_defect"
select_by = "val.f1_macro"

[dataset]
plugin = "synthetic-defects"
image_size = 64
n_train = {sizes["n_train"]}
n_val = {sizes["n_val"]}
n_test = {sizes["n_test"]}

[train]
epochs = {epochs}
batch_size = 32
optimizer = {{ name = "adam", lr = 2e-3 }}
scheduler = {{ name = "cosine" }}
loss = "ce"
augment = {{ hflip = 0.5, vflip = 0.5, rot90 = 0.5, color_jitter = 0.3, noise = 0.2 }}
map_size = 32

{models}"""


def per_epoch_cpu(name: str, sizes: dict[str, int], epochs: int, tmp: Path) -> dict[str, float]:
    """Model kind to CPU seconds per epoch (training, validation, and the cell's test work spread over epochs)."""
    from harness.config import load_experiment
    from harness.plugins import build_plugins
    from harness.runner import run_experiment

    path = tmp / f"{name}.toml"
    path.write_text(experiment_text(name, sizes, epochs))
    plugins = build_plugins()
    experiment = load_experiment(path, plugins)
    found: dict[str, float] = {}
    last = [time.process_time()]

    def echo(line: str) -> None:
        if ": done in " in line:
            cell = line.split("] ", 1)[1].split(":", 1)[0]
            kind = next(v for k, v in KIND.items() if cell.startswith(k))
            now = time.process_time()
            found[kind] = (now - last[0]) / epochs
            last[0] = now

    run_experiment(experiment, plugins, runs_dir=tmp / "runs", show_progress=False, echo=echo)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    current = tomllib.loads((REPO / "experiments" / "ablation.toml").read_text())
    sizes = {"previous": {"n_train": 400, "n_val": 96, "n_test": 160},
             "current": {k: current["dataset"][k] for k in ("n_train", "n_val", "n_test")}}
    epochs = {"previous": 10, "current": current["train"]["epochs"]}
    totals = {}
    with tempfile.TemporaryDirectory() as name:
        os.environ["HARNESS_CACHE_DIR"] = str(Path(name) / "cache")
        for which in ("previous", "current"):
            costs = per_epoch_cpu(which, sizes[which], args.epochs, Path(name))
            totals[which] = sum(CELLS[k] * epochs[which] * costs[k] for k in CELLS)
            shown = ", ".join(f"{k} {v:.2f}" for k, v in costs.items())
            print(f"{which}: {sizes[which]}, {epochs[which]} epochs; CPU s/epoch: {shown}; "
                  f"matrix cells {totals[which]:.0f} CPU s")
    ratio = totals["current"] / totals["previous"]
    print(f"current / previous cell work: {ratio:.3f}; estimated main job wall time on an idle machine: "
          f"{PREVIOUS_WALL_MINUTES * ratio:.1f} min (previous {PREVIOUS_WALL_MINUTES:.1f} min x ratio)")


if __name__ == "__main__":
    main()
