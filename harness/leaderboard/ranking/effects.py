"""Ablation effects: each level of a matrix axis against a reference level.

The axis is a dotted config path (``model.strategy``). Two trained rows form a pair
when their configs (model, train, dataset) agree on everything but that axis; each
level's effect on the ranking metric is the mean over its pairs of the paired
difference, with a hierarchical bootstrap over seeds and test samples
(:mod:`harness.stats.effects`). Each row's variance is split into its seed and
test-sampling shares, and every pair whose interval contains zero gets the seeds per
row that would separate it at the observed effect.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from harness.stats.bootstrap import metric_names
from harness.stats.effects import level_effect, per_seed_values, row_variance
from harness.stats.resample import Resampler

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard
    from harness.leaderboard.ranking.decisions import DecisionSettings
    from harness.stats.samples import SampleSet
    from harness.store import Run

CONTEXT = ("model", "train", "dataset")


def _lookup(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _context(config: dict[str, Any], path: str) -> str:
    """The config without the axis: rows with equal contexts differ only in the axis."""
    kept = json.loads(json.dumps({k: config.get(k) for k in CONTEXT}, default=str))
    *parents, last = path.split(".")
    node = kept
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)
    return json.dumps(kept, sort_keys=True)


def axis_rows(leaderboard: Leaderboard, run: Run, path: str) -> dict[str, tuple[str, str]]:
    """Trained row to ``(level, context)`` for the rows that have the axis."""
    out = {}
    for row, detail in leaderboard.details.items():
        if detail.kind != "model" or not detail.cells or detail.cells[0] not in run.cells:
            continue
        config = run.cells[detail.cells[0]].config
        level = _lookup(config, path)
        if level is not None:
            out[row] = (str(level), _context(config, path))
    return out


def _f(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def one_axis(leaderboard: Leaderboard, run: Run, tests: dict[str, SampleSet], path: str,
             settings: DecisionSettings) -> dict[str, Any]:
    """Effects, variance shares and seeds needed for one axis."""
    found = {r: v for r, v in axis_rows(leaderboard, run, path).items() if r in tests}
    levels = sorted({level for level, _ in found.values()})
    metric = leaderboard.rank_by.partition(".")[2]
    base = {"axis": path, "metric": f"test.{metric}", "levels": levels, "effects": [], "rows": []}
    if len(levels) < 2:
        return base | {"reference": None, "note": f"fewer than two levels of {path} among the rows"}
    reference = settings.effects_reference.get(path, levels[0])
    if reference not in levels:
        return base | {"reference": reference, "note": f"no row has {path} = {reference!r}"}
    first = tests[next(iter(found))]
    if metric not in metric_names(first.classes):
        return base | {"reference": reference, "note": f"{metric} cannot be recomputed from predictions"}
    resampler = Resampler(first.labels, settings.resamples, settings.seed)
    values = {r: per_seed_values(tests[r], resampler, metric) for r in found}
    variances = {r: row_variance(*values[r]) for r in found}
    refs = {ctx: r for r, (level, ctx) in found.items() if level == reference}
    effects = []
    for i, level in enumerate(x for x in levels if x != reference):
        pairs = [(refs[ctx], r) for r, (lv, ctx) in found.items() if lv == level and ctx in refs]
        if pairs:
            e = level_effect(level, pairs, values, variances, settings.seed + 1 + i)
            effects.append({"level": level, "effect": e.effect, "low": _f(e.low), "high": _f(e.high),
                            "pairs": [list(p) for p in e.pairs], "separated": e.separated,
                            "seeds_needed": e.seeds_needed})
    rows = [{"row": r, "level": found[r][0], "n_seeds": variances[r].n_seeds,
             "seed_var": _f(variances[r].seed_var), "test_var": _f(variances[r].test_var),
             "seed_share": _f(variances[r].seed_share)} for r in leaderboard.rows["row"] if r in found]
    return base | {"reference": reference, "effects": effects, "rows": rows, "note": None}


def effect_tables(leaderboard: Leaderboard, run: Run, tests: dict[str, SampleSet], settings: DecisionSettings
                  ) -> list[dict[str, Any]]:
    """One entry per ``effects`` axis."""
    return [one_axis(leaderboard, run, tests, path, settings) for path in settings.effects]
