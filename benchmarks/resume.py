"""Resume cost: a rerun of a finished matrix against its first run, for ``experiments/smoke.toml``.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/resume.py [--file experiments/smoke.toml]

Runs the experiment twice with ``harness run`` in fresh folders (runs, leaderboards and an
empty dataset cache, so the first run pays everything a new user pays), then prints both
wall times and their ratio (goal <= 0.05). The rerun must find every cell done, build no
dataset and leave the leaderboard as it was: the script checks that ``index.html`` kept
its modification time and that no cell was trained again.

Two ratios are printed: the whole command (Python start-up and imports included, which
a rerun pays in full) and the harness's own work in one process (plan, skip, derived
rows, leaderboard check) with the imports already done, measured by running the same
steps in-process after the command-line runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_command(file: Path, tmp: Path) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(file), "--runs-dir", str(tmp / "runs"),
                           "--leaderboards-dir", str(tmp / "lb"), "--no-progress"],
                          capture_output=True, text=True, cwd=tmp, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"harness run failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc.stdout


def in_process(file: Path, tmp: Path) -> float:
    """The rerun's own work with every import already done: plan, skip, derived rows, leaderboard check."""
    from harness.config import load_experiment
    from harness.plugins import build_plugins
    from harness.runner import publish, run_experiment

    plugins = build_plugins()
    experiment = load_experiment(file, plugins)
    started = time.perf_counter()
    the_plan, root = run_experiment(experiment, plugins, runs_dir=tmp / "runs", show_progress=False,
                                    echo=lambda s: None)
    publish(experiment, the_plan, root, plugins, tmp / "lb" / experiment.name)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=REPO / "experiments" / "smoke.toml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ["HARNESS_CACHE_DIR"] = str(tmp / "cache")  # a new user's empty cache
        first, _ = timed_command(args.file.resolve(), tmp)
        pages = sorted((tmp / "lb").rglob("index.html"))
        before = {p: p.stat().st_mtime_ns for p in pages}
        rerun, out = timed_command(args.file.resolve(), tmp)
        if "epoch 1/" in out or " 0 to run" not in out:
            sys.exit(f"the rerun trained cells:\n{out}")
        if {p: p.stat().st_mtime_ns for p in pages} != before:
            sys.exit("the rerun redrew the unchanged leaderboard")
        own = in_process(args.file.resolve(), tmp)
    print(f"{args.file.name}: first run {first:.2f} s, rerun {rerun:.2f} s (whole command)")
    print(f"rerun / first run, whole command:          {rerun / first:.4f}  (goal <= 0.05)")
    print(f"rerun / first run, harness work in-process: {own / first:.4f}  ({own:.3f} s; imports excluded)")


if __name__ == "__main__":
    main()
