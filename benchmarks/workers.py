"""Wall time of one 8-cell matrix run three ways: ``local``, ``process`` (2 workers) and ``ray`` (2 workers).

Each run is a real ``harness run`` command on a fresh run store, cells single-threaded
(``OMP_NUM_THREADS=1``, ``threads_per_worker = 1``), so on a 2-core machine two workers can
at best halve the time spent in cells. Prints, for each backend, the command's wall time,
the cell phase (first cell start to last cell finish, from the lease records), their ratios
to ``local`` (target for ``process``: <= 0.6 of the wall time), and whether the leaderboards
are identical (same rows and cells, metrics equal to 1e-6). Backends run in alternating
order, ``--repeats`` times each, and the fastest run of each is shown, so that a change in
the machine's load does not favour one of them.

    python benchmarks/workers.py [--epochs 6] [--n-train 256] [--arch resnet10t] [--repeats 2] [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPERIMENT = """
[experiment]
name = "workers"
seeds = [0, 1, 2, 3, 4, 5, 6, 7]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = {n_train}
n_val = 64
n_test = 64

[train]
epochs = {epochs}
batch_size = 32

[[matrix.model]]
plugin = "timm"
arch = "{arch}"
"""


def run(file: Path, tmp: Path, name: str, *flags: str) -> dict[str, float]:
    runs, board = tmp / name / "runs", tmp / name / "lb"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "MPLBACKEND": "Agg", "RAY_DEDUP_LOGS": "0"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(file), "--runs-dir", str(runs),
                           "--leaderboards-dir", str(board), "--no-progress", *flags], capture_output=True,
                          text=True, env=env, cwd=tmp)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
    records = [json.loads(p.read_text()) for p in (runs / "workers" / ".claims").glob("*-*.json")]
    cells = max(r["at"] for r in records) - min(r["since"] for r in records)
    workers = len({r["worker"] for r in records})
    return {"wall": wall, "cells": cells, "workers": workers, "board": board / "workers"}


def rows(board: Path) -> list[tuple[str, tuple[str, ...], dict[str, float]]]:
    results = json.loads((board / "results.json").read_text())
    timing = ("seconds", "latency", "images_per_second")
    return [(r["row"], tuple(r["cells"]), {k: v["mean"] for k, v in r["metrics"].items()
                                           if isinstance(v, dict) and not any(t in k for t in timing)})
            for r in results["rows"]]


def same(a: Path, b: Path) -> bool:
    ra, rb = rows(a), rows(b)
    if [(x[0], x[1]) for x in ra] != [(x[0], x[1]) for x in rb]:
        return False
    def close(p: float | None, q: float | None) -> bool:
        return p == q if p is None or q is None else math.isclose(p, q, abs_tol=1e-6)

    return all(x[2].keys() == y[2].keys() and all(close(x[2][k], y[2][k]) for k in x[2]) for x, y in zip(ra, rb))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--n-train", type=int, default=256)
    parser.add_argument("--arch", default="resnet10t")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each backend; the fastest is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-workers-") as name:
        tmp = Path(name)
        file = tmp / "workers.toml"
        file.write_text(EXPERIMENT.format(epochs=args.epochs, n_train=args.n_train, arch=args.arch))
        flags = {"local": (), "process": ("--backend", "process", "--workers", "2"),
                 "ray": ("--backend", "ray", "--workers", "2")}
        if args.skip_ray:
            del flags["ray"]
        else:
            try:
                import ray  # noqa: F401
            except ImportError:
                print("ray is not installed (pip install 'harness[ray]'): skipping it")
                del flags["ray"]
        results: dict[str, dict] = {}
        order = list(flags)
        for repeat in range(args.repeats):  # alternate the order so a change of load hits every backend
            for key in order if repeat % 2 == 0 else order[::-1]:
                r = run(file, tmp, f"{key}{repeat}", *flags[key])
                if key not in results or r["wall"] < results[key]["wall"]:
                    results[key] = r
        base = results["local"]
        print(f"8 cells of {args.arch}, {args.epochs} epochs, {args.n_train} training images at 32 px, "
              f"1 thread per cell, {os.cpu_count()} CPU cores, best of {args.repeats} runs each, "
              f"load average {os.getloadavg()[0]:.1f} at the end")
        print(f"{'backend':<8} {'workers':>7} {'wall s':>8} {'x local':>8} {'cells s':>8} {'x local':>8}  "
              f"leaderboard")
        for key, r in results.items():
            print(f"{key:<8} {r['workers']:>7} {r['wall']:>8.1f} {r['wall'] / base['wall']:>8.2f} "
                  f"{r['cells']:>8.1f} {r['cells'] / base['cells']:>8.2f}  "
                  f"{'reference' if key == 'local' else ('identical' if same(base['board'], r['board']) else 'DIFFERENT')}")


if __name__ == "__main__":
    main()
