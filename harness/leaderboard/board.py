"""The in-memory leaderboard: what ``build_leaderboard`` computed, before rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from harness.stats.bootstrap import Interval
    from harness.stats.paired import PairedResult


@dataclass(frozen=True)
class RowDetail:
    """Everything shown about one model configuration besides its ranking line.

    Attributes:
        row: the row key (model configuration, seed left out).
        model: the model plugin and its options, for display.
        cells: ids of the row's finished cells, first seed first.
        seeds: their seeds, in the same order (None where a config has no seed).
        classes: class names.
        per_class: index = class name; columns ``precision``, ``recall``, ``f1``,
            ``support``: test-split means over seeds (NaN where not recorded).
        confusion: ``[K, K]`` test confusion matrix summed over seeds, or None when
            no cell of the row stored test predictions.
        kind: ``"model"`` (trained cells), ``"ensemble"`` or ``"tta"``.
        sources: the cells a derived row was built from (ensemble members, the TTA
            row's source cells), whose thumbnails serve its gallery.
        tuning: the row's Optuna studies (:func:`harness.leaderboard.ranking.tuning.row_tuning`),
            or None when it was not tuned.
        ensemble: :func:`harness.leaderboard.ranking.derived.ensemble_info` of an ensemble row.
        tta: :func:`harness.leaderboard.ranking.derived.tta_info` of a TTA row.
    """

    row: str
    model: str
    cells: tuple[str, ...]
    seeds: tuple[Any, ...]
    classes: tuple[str, ...]
    per_class: pd.DataFrame
    confusion: np.ndarray | None
    kind: str = "model"
    sources: tuple[str, ...] = ()
    tuning: dict[str, Any] | None = None
    ensemble: dict[str, Any] | None = None
    tta: dict[str, Any] | None = None


@dataclass(frozen=True)
class Leaderboard:
    """A ranked experiment.

    Attributes:
        experiment: the experiment's name.
        title: page title.
        description: one paragraph under the title.
        rank_by: the metric rows are ranked by.
        rows: one line per row in rank order: ``rank``, ``row``, ``model``, ``n_seeds``,
            then ``<metric>_mean`` and ``<metric>_std`` for every metric (std is NaN
            with a single seed); once statistics are added also ``<metric>_low`` and
            ``<metric>_high`` (the bootstrap interval, NaN where there is none) and
            ``pareto`` (on the cost/quality front). The chance rows (kind ``"chance"``)
            are ranked among them.
        metrics: every aggregated metric name, ``rank_by`` first.
        shown: the metrics shown in the ranking table, ``rank_by`` first.
        details: row key to :class:`RowDetail`.
        failed: ``{"cell", "reason"}`` of every failed cell, in id order.
        incomplete: ids of cells that never finished (no ``status.json``).
        meta: the run's ``run.json`` (empty if absent).
        out_dir: where the files were written, once written.
        efficiency: the efficiency table's metrics (parameters, GMACs, latency, ...).
        calibration: the calibration table's metrics (``test.ece``, ``test.brier``, ...).
        run_dir: the run store folder the leaderboard was built from.
        intervals: row key to metric name to its bootstrap :class:`Interval`.
        paired: metric name to the paired tests of every other row against the top
            row, row key to :class:`PairedResult`.
        fingerprints: row key to split to the fingerprint of its stored predictions.
        pareto_cost: the cost axis of the Pareto front (e.g. ``test.latency_ms``), or None.
        pareto_value: the quality axis of the Pareto front, or None.
        wrong_files: row key to split to the CSV of its wrong predictions, relative to
            ``out_dir``.
        notes: remarks on what could not be computed and why.
        bootstrap: the settings used: ``resamples``, ``seed``, ``level``, ``alpha``.
        decisions: the decision tables (:mod:`harness.leaderboard.ranking.decisions`),
            their figures under ``"figures"``.
        vs_chance: row key to chance row to the row's paired test against it on
            ``rank_by`` (:mod:`harness.leaderboard.ranking.chance`).
    """

    experiment: str
    title: str
    description: str
    rank_by: str
    rows: pd.DataFrame
    metrics: tuple[str, ...]
    shown: tuple[str, ...]
    details: dict[str, RowDetail]
    failed: tuple[dict[str, str], ...] = ()
    incomplete: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    efficiency: tuple[str, ...] = ()
    calibration: tuple[str, ...] = ()
    run_dir: Path | None = None
    intervals: dict[str, dict[str, Interval]] = field(default_factory=dict)
    paired: dict[str, dict[str, PairedResult]] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, str]] = field(default_factory=dict)
    pareto_cost: str | None = None
    pareto_value: str | None = None
    wrong_files: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    bootstrap: dict[str, Any] = field(default_factory=dict)
    vs_chance: dict[str, dict[str, PairedResult]] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)

    @property
    def top(self) -> str | None:
        """The row ranked first, if any."""
        return None if self.rows.empty else str(self.rows["row"].iloc[0])
