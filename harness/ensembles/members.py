"""Choosing an ensemble's member cells and reading their stored predictions, aligned."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.matrix import Cell
from harness.store import CellRecord, Run

OOF = "oof"  # predictions_oof.csv: out-of-fold predictions, preferred over val for fitting


def patterns(members: str | list[str]) -> list[str]:
    """``"*"``, one glob or a list of row names / globs, as a list of globs."""
    return [members] if isinstance(members, str) else list(members)


def member_groups(cells: list[Cell], members: str | list[str], across_seeds: bool) -> list[tuple[Any, list[Cell]]]:
    """The matrix cells of each ensemble: one group per seed, or one over every seed.

    Args:
        cells: the current matrix, in order.
        members: globs over row labels (``fnmatch``, case-sensitive).
        across_seeds: one group of every matching cell, seed ``"all"``.

    Returns:
        ``(seed, cells)`` pairs in seed order; a group may be empty.

    Raises:
        HarnessError: a pattern matches no row of the matrix.
    """
    globs = patterns(members)
    rows = list(dict.fromkeys(c.row for c in cells))
    for glob in globs:
        if not any(fnmatch.fnmatchcase(r, glob) for r in rows):
            raise HarnessError(f"ensemble members {glob!r} match no row of this matrix; rows: {', '.join(rows)}")
    chosen = [c for c in cells if any(fnmatch.fnmatchcase(c.row, g) for g in globs)]
    if across_seeds:
        return [("all", chosen)]
    seeds = list(dict.fromkeys(c.seed for c in cells))
    return [(seed, [c for c in chosen if c.seed == seed]) for seed in seeds]


@dataclass
class MemberData:
    """Aligned predictions of an ensemble's members.

    Attributes:
        records: the member cells.
        classes: shared class names.
        proba: split to ``[M, N, K]``.
        labels: split to ``[N]``.
        sample_ids: split to the shared ids.
    """

    records: list[CellRecord]
    classes: tuple[str, ...]
    proba: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    sample_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def fit_split(self) -> str:
        """``"oof"`` when every member stored out-of-fold predictions, else ``"val"``."""
        return OOF if OOF in self.proba else "val"


def _first_difference(a: tuple[Any, ...], b: tuple[Any, ...]) -> str:
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} samples"
    i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    return f"first difference at row {i}: {a[i]!r} vs {b[i]!r}"


def load_members(run: Run, records: list[CellRecord]) -> MemberData:
    """Read every member's val, test (and out-of-fold, when all have it) predictions.

    Raises:
        HarnessError: members disagree on classes, or on sample ids or labels (or their
            order) within a split.
    """
    classes = records[0].classes
    for r in records[1:]:
        if r.classes != classes:
            raise HarnessError(f"members {records[0].id} and {r.id} have different classes: {classes} vs {r.classes}")
    data = MemberData(records, classes)
    has_oof = all((r.path / f"predictions_{OOF}.csv").exists() for r in records)
    for split in ("val", "test", *([OOF] if has_oof else [])):
        sets = [run.prediction_set(r.id, split) for r in records]
        ids, labels = sets[0].sample_ids, sets[0].labels
        for r, s in zip(records[1:], sets[1:]):
            if s.sample_ids != ids:
                raise HarnessError(f"members {records[0].id} and {r.id} stored {split} predictions for different "
                                   f"samples or in a different order ({_first_difference(ids, s.sample_ids)})")
            if not np.array_equal(s.labels, labels):
                raise HarnessError(f"members {records[0].id} and {r.id} disagree on {split} labels "
                                   f"({_first_difference(tuple(labels), tuple(s.labels))})")
        data.proba[split] = np.stack([s.proba for s in sets])
        data.labels[split] = labels
        data.sample_ids[split] = ids
    return data
