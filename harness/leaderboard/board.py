"""The in-memory leaderboard: what ``build_leaderboard`` computed, before rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


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
    """

    row: str
    model: str
    cells: tuple[str, ...]
    seeds: tuple[Any, ...]
    classes: tuple[str, ...]
    per_class: pd.DataFrame
    confusion: np.ndarray | None


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
            with a single seed).
        metrics: every aggregated metric name, ``rank_by`` first.
        shown: the metrics shown in the ranking table, ``rank_by`` first.
        details: row key to :class:`RowDetail`.
        failed: ``{"cell", "reason"}`` of every failed cell, in id order.
        incomplete: ids of cells that never finished (no ``status.json``).
        meta: the run's ``run.json`` (empty if absent).
        out_dir: where the files were written, once written.
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
