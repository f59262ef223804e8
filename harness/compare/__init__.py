"""``harness compare A B``: two leaderboards or runs, row by row.

:mod:`~harness.compare.sides` reads each side (a leaderboard folder or a run folder),
:mod:`~harness.compare.diff` matches rows and computes paired differences,
:mod:`~harness.compare.render` writes text, Markdown and HTML, and
:mod:`~harness.compare.command` is the command line.
"""

from __future__ import annotations

from harness.compare.command import add_compare_parser, cmd_compare
from harness.compare.diff import CompareRefused, Comparison, MetricDelta, RowChange, compare_sides, regressions

__all__ = ["CompareRefused", "Comparison", "MetricDelta", "RowChange", "add_compare_parser", "cmd_compare",
           "compare_sides", "regressions"]
