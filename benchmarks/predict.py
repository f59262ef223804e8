"""``Predictor.predict`` against a hand-written timm + PIL loop, same files, same model, one run.

    HF_HUB_OFFLINE=1 python benchmarks/predict.py

A ``resnet10t`` with seeded random weights is stored as ``checkpoint.safetensors`` plus
``config.json`` (64 px, ImageNet normalisation), and 128 PNG files of 80x96 pixels are
written to a temporary folder. Both sides read those files from disk each time:

* harness: ``harness.Predictor.from_run(checkpoint).predict(files, batch_size=B)``;
* reference: ``PIL.Image.open(...).convert("RGB").resize((64, 64), BILINEAR)``, numpy to a
  tensor, ``(x / 255 - mean) / std``, ``timm.create_model`` with the same weights,
  softmax, in batches of ``B``, the loop one would write by hand.

The probabilities are checked to agree before anything is timed; each figure is the
best of seven passes after a warm-up, the two sides' passes alternated; the ratio is the median of the seven paired ratios. Ratios above 1 mean the harness is faster.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ARCH, SIZE, N_IMAGES, BATCHES, SEED = "resnet10t", 64, 128, (1, 32), 0
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def interleaved(a: Callable[[], Any], b: Callable[[], Any], repeat: int = 7) -> tuple[float, float, float]:
    """Best wall time of each side and the median of the paired ratios ``time(b) / time(a)``.

    The two sides' passes alternate, so load from other processes hits both alike.
    """
    a(), b()  # warm-up
    times_a, times_b = [], []
    for _ in range(repeat):
        for fn, times in ((a, times_a), (b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    ratios = np.asarray(times_b) / np.asarray(times_a)
    return min(times_a), min(times_b), float(np.median(ratios))


def setup(folder: Path) -> tuple[Path, list[Path]]:
    """A stored checkpoint with its config, and the image files."""
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    from harness.plugins import build_plugins
    from harness.train.components import build_model

    config = {"id": "bench", "row": f"timm arch={ARCH}", "classes": ["a", "b", "c"],
              "dataset": {"plugin": "folder", "root": str(folder), "image_size": SIZE},
              "model": {"plugin": "timm", "arch": ARCH}, "train": {"epochs": 1}}
    torch.manual_seed(SEED)
    model = build_model(config, 3, build_plugins().registries)
    cell = folder / "cell"
    cell.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(cell / "checkpoint.safetensors"))
    (cell / "config.json").write_text(json.dumps(config), encoding="utf-8")
    rng = np.random.default_rng(SEED)
    files = []
    for i in range(N_IMAGES):
        path = folder / "images" / f"{i:04d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(path)
        files.append(path)
    return cell / "checkpoint.safetensors", files


def reference(checkpoint: Path) -> Callable[[list[Path], int], np.ndarray]:
    """The hand-written loop: timm, PIL and torch, nothing from the harness."""
    import timm
    import torch
    from PIL import Image
    from safetensors.torch import load_file

    model = timm.create_model(ARCH, num_classes=3)
    model.load_state_dict(load_file(str(checkpoint)))
    model.eval()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)

    def run(files: list[Path], batch: int) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(files), batch):
                images = [np.asarray(Image.open(f).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR))
                          for f in files[start:start + batch]]
                x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
                x = (x / 255.0 - mean) / std
                out.append(torch.softmax(model(x), dim=1).numpy())
        return np.concatenate(out)

    return run


def main() -> None:
    from harness import Predictor

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, files = setup(Path(tmp))
        predictor = Predictor.from_run(checkpoint)
        hand = reference(checkpoint)
        ours = np.array([[p.probabilities[c] for c in predictor.classes] for p in predictor.predict(files)])
        diff = float(np.abs(ours - hand(files, 32)).max())
        print(f"{ARCH} at {SIZE} px, {N_IMAGES} PNG files of 80x96, CPU threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
        print(f"max |harness - reference| probability: {diff:.2e}")
        assert diff < 1e-4, diff
        for batch in BATCHES:
            t_ours, t_ref, ratio = interleaved(lambda b=batch: predictor.predict(files, batch_size=b),
                                               lambda b=batch: hand(files, b))
            print(f"batch {batch:>3}: harness {N_IMAGES / t_ours:8.1f} img/s   timm+PIL loop {N_IMAGES / t_ref:8.1f} img/s"
                  f"   (best of 7 each)   median paired ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
