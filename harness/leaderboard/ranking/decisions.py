"""What a team needs to decide: the winner chosen on validation, slices, costs, effects, label issues.

Everything is computed from the prediction store, after the ranking and its statistics
(:mod:`harness.leaderboard.ranking.statistics`); the result is a JSON-ready dict kept
as ``Leaderboard.decisions``, written into ``results.json`` under ``"decisions"`` and
shown by ``_decisions.html.j2``:

- ``winner``: the row chosen by ``select_winner_by`` (by default the ``val.`` twin of
  ``rank_by``), its test score with an interval, the test-best row and the paired test
  between the two; a warning when the ranking itself is on the test set.
- ``slices`` (:mod:`harness.leaderboard.ranking.slicing`), ``costs``
  (:mod:`harness.leaderboard.ranking.costs`), ``effects``
  (:mod:`harness.leaderboard.ranking.effects`) and ``label_issues``
  (:mod:`harness.leaderboard.ranking.labels`), each only when asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.leaderboard.ranking.row_samples import row_split_samples
from harness.metrics import lower_is_better
from harness.stats.bootstrap import metric_names
from harness.stats.paired import compare_many_with_top
from harness.stats.permutation import DEFAULT_PERMUTATIONS
from harness.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED
from harness.stats.samples import SampleSet

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard
    from harness.leaderboard.ranking.samples import PredictionStore
    from harness.store import Run


@dataclass(frozen=True)
class DecisionSettings:
    """The ``[experiment]`` keys that ask for decision tables.

    Attributes:
        select_winner_by: the validation metric that picks the winner (None: the
            ``val.`` twin of ``rank_by``).
        slice_by: metadata fields to slice the test set by.
        costs: ``{"missed_defect": ..., "false_alarm": ...}`` or None.
        effects: matrix axes (``"model.strategy"``) whose levels are compared.
        effects_reference: axis to its reference level (default: the first level).
        label_issues: look for mislabelled samples (needs cleanlab).
        rank_by_cost: order the cost table (and name the winner) by test cost.
        resamples: bootstrap resamples; permutations: permutation-test swaps.
    """

    select_winner_by: str | None = None
    slice_by: tuple[str, ...] = ()
    costs: dict[str, float] | None = None
    effects: tuple[str, ...] = ()
    effects_reference: dict[str, str] = field(default_factory=dict)
    label_issues: bool = False
    rank_by_cost: bool = False
    resamples: int = DEFAULT_RESAMPLES
    permutations: int = DEFAULT_PERMUTATIONS
    seed: int = DEFAULT_SEED

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> DecisionSettings:
        """From the validated ``[experiment]`` keys (missing keys keep their defaults)."""
        config = dict(config or {})
        known = {k: v for k, v in config.items() if k in cls.__dataclass_fields__ and v is not None}
        for key in ("slice_by", "effects"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


BASELINE_KINDS = frozenset({"chance"})  # reference rows nobody deploys


def _best(leaderboard: Leaderboard, metric: str) -> str | None:
    """The deployable row with the best mean of ``metric`` (ties: the earlier in rank order)."""
    column = f"{metric}_mean"
    if column not in leaderboard.rows.columns:
        return None
    rows = leaderboard.rows
    rows = rows[[leaderboard.details[r].kind not in BASELINE_KINDS if r in leaderboard.details else False
                 for r in rows["row"]]]
    if rows.empty:
        return None
    values = rows[column].to_numpy(dtype=np.float64)
    if np.isnan(values).all():
        return None
    values = np.where(np.isnan(values), np.inf if lower_is_better(metric) else -np.inf, values)
    pick = int(np.argmin(values) if lower_is_better(metric) else np.argmax(values))
    return str(rows["row"].iloc[pick])


def _finite(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _interval(leaderboard: Leaderboard, row: str, metric: str) -> dict[str, float | None]:
    found = leaderboard.intervals.get(row, {}).get(metric)
    line = leaderboard.rows.set_index("row").loc[row]
    mean = float(line[f"{metric}_mean"]) if f"{metric}_mean" in line.index else math.nan
    if found is None:
        return {"point": _finite(mean), "low": None, "high": None}
    return {"point": _finite(found.point), "low": _finite(found.low), "high": _finite(found.high)}


def winner(leaderboard: Leaderboard, tests: dict[str, SampleSet], settings: DecisionSettings) -> dict[str, Any]:
    """The row chosen on validation, confirmed on test (see the module docstring)."""
    split, _, name = leaderboard.rank_by.partition(".")
    test_metric = f"test.{name}"
    select_by = settings.select_winner_by or f"val.{name}"
    out: dict[str, Any] = {"select_by": select_by, "test_metric": test_metric, "row": None, "test_best": None,
                           "test": None, "test_best_test": None, "paired": None, "note": None,
                           "warning": None}
    if split == "test":
        out["warning"] = (f"The ranking is on {leaderboard.rank_by}, a test-set metric: choosing the best of many rows "
                          "on the test set flatters it. The headline row is chosen on validation instead.")
    chosen, test_best = _best(leaderboard, select_by), _best(leaderboard, test_metric)
    if chosen is None:
        out["note"] = f"no row recorded {select_by}: no winner chosen on validation"
        return out
    out |= {"row": chosen, "test_best": test_best}
    if test_best is None:
        return out
    out |= {"test": _interval(leaderboard, chosen, test_metric), "test_best_test": _interval(leaderboard, test_best, test_metric)}
    if chosen != test_best and chosen in tests and test_best in tests and name in metric_names(tests[chosen].classes):
        if tests[chosen].fingerprint == tests[test_best].fingerprint:
            (result,) = compare_many_with_top(
                (test_best, tests[test_best]), [(chosen, tests[chosen])], [name],
                lower_is_better=[lower_is_better(test_metric)], n_resamples=settings.resamples,
                n_permutations=settings.permutations, seed=settings.seed,
            )[name]
            out["paired"] = {"delta": result.delta, "low": _finite(result.low), "high": _finite(result.high),
                             "p": _finite(result.p), "method": result.method, "verdict": result.verdict,
                             "p_min": _finite(result.p_min)}
    return out


def add_decisions(
    leaderboard: Leaderboard, run: Run, store: PredictionStore, settings: DecisionSettings | None = None
) -> dict[str, Any]:
    """Every decision table the settings ask for (``winner`` always)."""
    from harness.leaderboard.ranking import costs, effects, labels, slicing

    settings = settings or DecisionSettings()
    if leaderboard.rows.empty:
        return {}
    tests = row_split_samples(leaderboard, run, store, "test")
    out: dict[str, Any] = {"winner": winner(leaderboard, tests, settings), "notes": []}
    if settings.slice_by:
        out["slices"] = slicing.slice_tables(leaderboard, run, tests, settings)
    if settings.costs:
        vals = row_split_samples(leaderboard, run, store, "val")
        out["costs"] = costs.cost_table(leaderboard, vals, tests, settings)
    if settings.effects:
        out["effects"] = effects.effect_tables(leaderboard, run, tests, settings)
    if settings.label_issues:
        out["label_issues"] = labels.label_issue_table(leaderboard, run, store)
    return _json_ready(out)


def _json_ready(value: Any) -> Any:
    """NaN and infinite floats as None (JSON has neither), numpy scalars as Python ones, recursively."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
