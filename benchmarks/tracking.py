"""What trackers and the artifact store cost: one small matrix run four ways in this process.

``plain`` (no tracker, no store), ``mlflow`` (local file store), ``tensorboard``, and
``store`` (a ``file://`` mirror, then a second run in a fresh folder that downloads every
cell instead of training it). Prints each run's wall time and its ratio to ``plain``; the
ways run in rotating order ``--repeats`` times and the fastest of each is shown, so a
change in the machine's load does not favour one.

    python benchmarks/tracking.py [--epochs 2] [--seeds 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

EXPERIMENT = """
[experiment]
name = "bench"
seeds = {seeds}

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 64
n_val = 32
n_test = 32

[train]
epochs = {epochs}
batch_size = 16

[[matrix.model]]
plugin = "timm"
arch = "resnet10t"
"""
EXTRA = {
    "plain": "",
    "mlflow": '[[tracker]]\nplugin = "mlflow"\ntracking_uri = "{tmp}/mlruns"\n',
    "tensorboard": '[[tracker]]\nplugin = "tensorboard"\nlog_dir = "{tmp}/tb"\n',
    "store": '[store]\nuri = "file://{tmp}/remote"\n',
}


def run_once(way: str, args: argparse.Namespace, plugins) -> tuple[float, float | None]:
    """Wall seconds of the run, and for ``store`` of the second run that pulls every cell."""
    from harness.config import load_experiment
    from harness.runner import run_experiment

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        text = EXPERIMENT.format(seeds=list(range(args.seeds)), epochs=args.epochs)
        path.write_text(text + EXTRA[way].format(tmp=tmp), encoding="utf-8")
        experiment = load_experiment(path, plugins)
        started = time.perf_counter()
        run_experiment(experiment, plugins, runs_dir=Path(tmp) / "a", show_progress=False, echo=lambda s: None)
        first = time.perf_counter() - started
        if way != "store":
            return first, None
        started = time.perf_counter()
        run_experiment(experiment, plugins, runs_dir=Path(tmp) / "b", show_progress=False, echo=lambda s: None)
        return first, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from harness.plugins import build_plugins

    plugins = build_plugins()
    run_once("plain", args, plugins)  # warm caches (timm import, dataset cache) before timing
    best: dict[str, tuple[float, float | None]] = {}
    ways = list(EXTRA)
    for repeat in range(args.repeats):
        for way in ways[repeat % len(ways):] + ways[:repeat % len(ways)]:  # each way first once in a while
            first, second = run_once(way, args, plugins)
            if way not in best or first < best[way][0]:
                best[way] = (first, second)
    plain = best["plain"][0]
    print(f"{args.seeds} cells x {args.epochs} epochs, fastest of {args.repeats}")
    for way, (first, second) in best.items():
        line = f"{way:12s} {first:6.2f} s  x{first / plain:.2f} of plain"
        if second is not None:
            line += f"; a fresh folder pulling every cell: {second:.2f} s (x{second / plain:.2f})"
        print(line)


if __name__ == "__main__":
    main()
