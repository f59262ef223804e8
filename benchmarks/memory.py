"""Peak memory of a 2-cell run on 512 px images: the cache read in place against a per-cell copy.

    HF_HUB_OFFLINE=1 python benchmarks/memory.py [--images 240] [--size 512] [--arch test_resnet] [--batch 4]

Writes ``--images`` PNGs in two class folders, builds the ``folder`` dataset's memory-mapped
cache once (in its own process), then runs the same 2-cell experiment (one model, seeds
0 and 1, one epoch; small batches, so the model's activations do not hide the data) in two
fresh processes:

(a) ``copy``: the earlier data path, reconstructed here: every split the training loop
    and the evaluation read is first copied out of the cache into a contiguous
    ``[N, 3, H, W]`` tensor (``np.ascontiguousarray`` + ``.contiguous()``), per cell;
(b) ``view``: the harness as it is: splits stay views of the memory map and each batch
    is gathered from it.

Each process prints its peak resident set (``VmHWM``: file-backed pages of the map count
too, once) and the peak of its anonymous memory (``RssAnon``, sampled every 10 ms: what a
copy adds and the kernel cannot drop). Both in one run, with their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXPERIMENT = """
[experiment]
name = "memory"
seeds = [0, 1]

[dataset]
plugin = "folder"
root = "{root}"
image_size = {size}
val_ratio = 0.2
test_ratio = 0.2

[train]
epochs = 1
batch_size = {batch}
eval_batch_size = {batch}
optimizer = {{ name = "adam", lr = 1e-3 }}
scheduler = "cosine"

[[matrix.model]]
plugin = "timm"
arch = "{arch}"
"""


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def write_images(root: Path, n: int, size: int) -> None:
    """``n`` smooth random RGB PNGs (they compress, so writing them is quick), half per class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / ("defect" if i % 2 else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, (size // 32, size // 32, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(folder / f"{i:04d}.png")


def copying_path() -> None:
    """Swap the training loop's split tensors for per-cell contiguous copies (the earlier code)."""
    import harness.train.loop as loop
    import harness.train.tensors as tensors

    views = tensors.to_tensors

    def to_tensors_copy(split):
        data = views(split)
        return tensors.SplitTensors(data.images.contiguous(), data.labels, data.masks, data.has_mask,
                                    data.sample_ids)

    tensors.to_tensors = to_tensors_copy  # eval_tensors calls it through the module
    loop.to_tensors = to_tensors_copy


def child(mode: str, experiment_file: Path, runs: Path) -> None:
    """One measured process: run the experiment, print peak RSS and peak anonymous memory (kB) as JSON."""
    import torch

    from harness.config import load_experiment
    from harness.plugins import build_plugins
    from harness.runner import run_experiment

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if mode == "copy":
        copying_path()
    peak_anon = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak_anon[0] = max(peak_anon[0], _status_kb("RssAnon"))
            time.sleep(0.01)

    plugins = build_plugins()
    experiment = load_experiment(experiment_file, plugins)
    baseline = _status_kb("VmRSS")
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    started = time.perf_counter()
    the_plan, root = run_experiment(experiment, plugins, runs_dir=runs, show_progress=False, echo=lambda s: None)
    seconds = time.perf_counter() - started
    done.set()
    thread.join()
    statuses = [json.loads((root / c.id / "status.json").read_text())["status"] for c in the_plan.cells]
    print(json.dumps({"mode": mode, "peak_rss_kb": _status_kb("VmHWM"), "peak_anon_kb": peak_anon[0],
                      "rss_before_run_kb": baseline, "seconds": seconds, "cells": statuses}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--arch", default="test_resnet")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--child", choices=("copy", "view", "build"))
    parser.add_argument("--experiment", type=Path)
    parser.add_argument("--runs", type=Path)
    args = parser.parse_args()
    if args.child == "build":
        from harness.config import load_experiment
        from harness.plugins import build_plugins
        from harness.runner import plan

        plan(load_experiment(args.experiment, build_plugins()), build_plugins())
        return
    if args.child:
        child(args.child, args.experiment, args.runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        write_images(tmp_path / "images", args.images, args.size)
        file = tmp_path / "memory.toml"
        file.write_text(textwrap.dedent(EXPERIMENT.format(root=tmp_path / "images", size=args.size, arch=args.arch,
                                                              batch=args.batch)))
        env = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
        me = [sys.executable, __file__, "--experiment", str(file)]
        subprocess.run([*me, "--child", "build"], env=env, check=True)
        split_mb = args.images * args.size * args.size * 3 / 2**20
        print(f"{args.images} images at {args.size} px ({split_mb:.0f} MB of pixels over all splits), "
              f"2 cells of {args.arch}, batch {args.batch}, cache built; measuring each data path in a fresh process",
              flush=True)
        results = {}
        for mode in ("copy", "view"):
            out = subprocess.run([*me, "--child", mode, "--runs", str(tmp_path / f"runs-{mode}")], env=env,
                                 check=True, capture_output=True, text=True)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[mode]
            print(f"  {mode:>4}: peak RSS {r['peak_rss_kb'] / 1024:7.1f} MB, peak anonymous "
                  f"{r['peak_anon_kb'] / 1024:7.1f} MB, run {r['seconds']:.1f} s, cells {r['cells']}", flush=True)
        before, after = results["copy"], results["view"]
        print(f"peak RSS view / copy: {after['peak_rss_kb'] / before['peak_rss_kb']:.2f}; "
              f"peak anonymous view / copy: {after['peak_anon_kb'] / before['peak_anon_kb']:.2f}; "
              f"saved {(before['peak_rss_kb'] - after['peak_rss_kb']) / 1024:.0f} MB of peak RSS")


if __name__ == "__main__":
    main()
