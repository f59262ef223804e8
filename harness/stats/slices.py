"""Metrics on slices of a split: the samples sharing one value of a metadata field.

A slice keeps the row's seeds and is scored like the whole split (the displayed seed
mean, a class-stratified bootstrap interval, paired tests against the top row). A
metric that needs a class the slice lacks is undefined there (NaN), not zero: the
recall of defects on a slice of normal parts, or a macro average or AUROC on a slice
holding one class, says nothing about the slice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from harness.stats.samples import SampleSet


def slice_values(sample_ids: Sequence[str], meta: Mapping[str, Mapping[str, object]], field: str) -> list[str | None]:
    """Each sample's value of ``field`` as text, None where the sample has none."""
    out = []
    for sid in sample_ids:
        value = meta.get(sid, {}).get(field)
        out.append(None if value is None or value == "" else str(value))
    return out


def subset(samples: SampleSet, index: np.ndarray) -> SampleSet:
    """The samples at ``index`` (in id order), every seed kept."""
    index = np.sort(np.asarray(index, dtype=np.int64))
    return SampleSet(
        samples.classes,
        tuple(samples.sample_ids[i] for i in index),
        samples.labels[index],
        samples.proba[:, index],
        samples.seeds,
    )


def defined_on(metric: str, classes: Sequence[str], labels: np.ndarray) -> bool:
    """Whether ``metric`` says something about a slice with these labels."""
    present = set(np.unique(labels).tolist())
    if not present:
        return False
    for prefix in ("recall_", "f1_", "precision_"):
        if metric.startswith(prefix) and metric[len(prefix):] in classes:
            return classes.index(metric[len(prefix):]) in present
    if metric.endswith(("_macro", "_weighted")) or metric in ("auroc", "balanced_accuracy"):
        return len(present) > 1
    return True
