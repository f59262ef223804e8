"""The ``harness compare`` command line: arguments, output files and exit status."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.compare.diff import CompareRefused, compare_sides, default_metrics, regressions


def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand to the ``harness`` command line."""
    parser = subparsers.add_parser(
        "compare",
        help="compare two leaderboards or runs row by row, with paired bootstrap intervals",
        description="Compare B with A: rows matched by configuration, per-metric differences B - A with 95% paired "
        "bootstrap intervals where both hold per-sample predictions on the same test set, rank changes, new and "
        "missing rows. Exit 1 when --fail-on-regression finds a significant regression, 2 when refused.",
    )
    parser.add_argument("a", type=Path, help="reference: a leaderboard folder (with results.json) or runs/<experiment>")
    parser.add_argument("b", type=Path, help="compared with A, same kinds")
    parser.add_argument(
        "--metric",
        action="append",
        dest="metrics",
        metavar="METRIC",
        help="metric to compare (repeatable; default: ranking, headline and calibration metrics)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="append",
        default=[],
        metavar="METRIC",
        help="exit 1 when a row is significantly worse on METRIC in B (repeatable)",
    )
    parser.add_argument("--rank-by", default=None, help="ranking metric of a run folder (default test.f1_macro)")
    parser.add_argument("--html", type=Path, help="also write a self-contained HTML report here")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown report here")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    return parser


def cmd_compare(args: argparse.Namespace) -> int:
    """Run ``harness compare``: print the comparison, write reports, check regressions."""
    from harness.compare.render import compare_html, compare_markdown, compare_text
    from harness.compare.sides import load_side
    from harness.store import atomic_write_text
    from harness.suite.history import record_comparison

    if args.resamples < 1:
        raise CompareRefused("--resamples must be at least 1")
    a, b = load_side(args.a, args.rank_by), load_side(args.b, args.rank_by)
    metrics = [*(args.metrics or default_metrics(a, b)), *args.fail_on_regression]
    comparison = compare_sides(a, b, metrics=metrics, n_resamples=args.resamples, seed=args.seed)
    print(compare_text(comparison))
    record_comparison(comparison, args.a, args.b)  # the experiment's history, for `harness suite`
    if args.markdown:
        atomic_write_text(args.markdown, compare_markdown(comparison))
    if args.html:
        atomic_write_text(args.html, compare_html(comparison))
    failures = [(m, row, d) for m in args.fail_on_regression for row, d in regressions(comparison, m)]
    for metric, row, d in failures:
        print(
            f"regression: {metric} of row {row!r} went from {d.a:.4f} to {d.b:.4f} "
            f"(B - A = {d.delta:+.4f}, 95% CI [{d.low:+.4f}, {d.high:+.4f}])",
            file=sys.stderr,
        )
    return 1 if failures else 0
