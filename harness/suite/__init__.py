"""Views over several experiments: the ``harness suite`` page and each experiment's history."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_suite_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``suite`` subcommand to the ``harness`` command line."""
    parser = subparsers.add_parser(
        "suite",
        help="one page over every experiment's leaderboard: winners, a cross-experiment ranking, history",
        description="Build index.html and suite.json over the experiment folders of DIR (each with a "
        "results.json): per-experiment winners, a Bradley-Terry ranking of models found in several experiments "
        "with bootstrap intervals, and each experiment's history of `harness compare` results.",
    )
    parser.add_argument("dir", type=Path, help="folder of leaderboards (e.g. leaderboards/)")
    parser.add_argument("--out", type=Path, default=None, help="where the page goes (default: DIR)")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples of the ranking (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    return parser


def cmd_suite(args: argparse.Namespace) -> int:
    """Run ``harness suite``."""
    from harness.suite.build import build_suite

    data = build_suite(args.dir, args.out, n_resamples=args.resamples, seed=args.seed)
    out = args.out or args.dir
    print(f"suite: {len(data['experiments'])} experiments, {len(data['ranking']['models'])} models ranked across them")
    for m in data["ranking"]["models"]:
        print(f"  {m['rank']:>3}  {m['model']}  {m['score']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}]")
    print(f"suite: {Path(out) / 'index.html'}")
    return 0
