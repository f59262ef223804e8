"""The fault table: every fault category the harness promises to survive, tried and held.

    HF_HUB_OFFLINE=1 python benchmarks/faults.py [--kills 10] [--fuzz 150] [--seed 0] [--json out.json]

Runs the scenarios of ``tests/faults/scenarios.py`` (the same code the fault suite runs):

- ``sigkill``: a real ``harness run`` killed with SIGKILL at seeded random moments of a
  small matrix, resumed after each kill; then a clean run to compare with;
- ``full disk``: the run store and the leaderboard folder on a small tmpfs, filled to
  several points (needs root; reported as skipped otherwise);
- ``truncated store``: one file of a finished cell cut in half at a time;
- ``isolation``: plugins raising ``SystemExit``, their own ``KeyboardInterrupt`` and other
  ``BaseException`` subclasses beside ordinary cells;
- ``malformed files``: hypothesis-generated broken experiment files, each of which must
  give exit 2, a ``file:line`` message and no traceback.

Prints one row per category (tried / held) and every trial that did not hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "faults"))

import scenarios  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="SIGKILL points")
    parser.add_argument("--fuzz", type=int, default=150, help="malformed experiment files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every trial here")
    args = parser.parse_args()
    from tabulate import tabulate

    trials: list[scenarios.Trial] = []
    skipped: list[tuple[str, str]] = []
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["HARNESS_CACHE_DIR"] = str(root / "cache")
        steps = [("isolation", lambda d: scenarios.isolation(d) + scenarios.user_interrupt(d / "ctrl_c")),
                 ("truncated store", lambda d: scenarios.truncated_store(d)),
                 ("malformed files", lambda d: scenarios.fuzz(d, examples=args.fuzz, seed=args.seed)),
                 ("full disk", lambda d: scenarios.full_disk(d)),
                 ("sigkill", lambda d: scenarios.sigkill(d, points=args.kills, seed=args.seed))]
        for name, step in steps:
            if name == "full disk" and scenarios.can_mount():
                skipped.append((name, scenarios.can_mount()))
                continue
            folder = root / name.replace(" ", "_")
            folder.mkdir()
            started = time.perf_counter()
            trials += step(folder)
            seconds[name] = time.perf_counter() - started
    rows = [[c, tried, held, "yes" if tried == held else "NO", f"{seconds.get(c, 0):.0f}"]
            for c, tried, held in scenarios.summary(trials)]
    rows += [[c, 0, 0, f"skipped: {why}", ""] for c, why in skipped]
    print(tabulate(rows, headers=["category", "tried", "held", "all held", "seconds"], tablefmt="simple"))
    failed = [t for t in trials if not t.held]
    for t in failed:
        print(f"NOT HELD  {t.category}: {t.name}: {t.detail}")
    if args.json:
        args.json.write_text(scenarios.as_json(trials))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
