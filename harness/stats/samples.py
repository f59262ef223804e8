"""A row's per-sample predictions on one split, with its seeds stacked and aligned.

Samples are put in sample-id order, so two sets of predictions on the same test set line
up index by index whatever order they were stored in. The fingerprint of a test set is a
hash of its sorted ``(sample_id, label)`` pairs: equal fingerprints mean the same
samples with the same labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import HarnessError


def fingerprint(sample_ids: Sequence[str], labels: Sequence[int] | np.ndarray) -> str:
    """Hash of the sorted ``(sample_id, label)`` pairs of a split.

    Args:
        sample_ids: ``N`` ids, in any order.
        labels: ``N`` integer labels, in the same order.

    Returns:
        16 hex digits (the start of a SHA-256).
    """
    pairs = sorted(zip((str(s) for s in sample_ids), (int(v) for v in np.asarray(labels).ravel())))
    text = "\n".join(f"{sid}\t{label}" for sid, label in pairs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SampleSet:
    """Predictions of one row on one split, seeds stacked, samples in id order.

    Attributes:
        classes: ``K`` class names.
        sample_ids: ``N`` ids, sorted.
        labels: ``[N]`` int64 true labels.
        proba: ``[S, N, K]`` float64 probabilities, one slice per seed.
        seeds: ``S`` seed labels, for display.
    """

    classes: tuple[str, ...]
    sample_ids: tuple[str, ...]
    labels: np.ndarray
    proba: np.ndarray
    seeds: tuple[Any, ...] = ()

    @property
    def n_seeds(self) -> int:
        return int(self.proba.shape[0])

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sample_ids, self.labels)

    def mean_proba(self) -> np.ndarray:
        """``[N, K]`` probabilities averaged over seeds."""
        return self.proba.mean(axis=0)

    def seed_averaged(self) -> SampleSet:
        """The same samples with one slice: the seed-averaged probabilities."""
        return SampleSet(self.classes, self.sample_ids, self.labels, self.mean_proba()[None], ("mean",))


def _sorted_by_id(sample_ids: Sequence[str], labels: np.ndarray, proba: np.ndarray, what: str):
    ids = np.asarray([str(s) for s in sample_ids])
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if len(ids) > 1 and (ids[1:] == ids[:-1]).any():
        dup = str(ids[1:][ids[1:] == ids[:-1]][0])
        raise HarnessError(f"{what}: sample id {dup!r} occurs more than once")
    return tuple(ids.tolist()), np.asarray(labels, dtype=np.int64)[order], np.asarray(proba, dtype=np.float64)[order]


def stack_seeds(
    classes: Sequence[str],
    seeds: Sequence[tuple[Any, Sequence[str], np.ndarray, np.ndarray]],
    what: str = "predictions",
) -> SampleSet:
    """Align the predictions of several seeds of one row.

    Args:
        classes: ``K`` class names.
        seeds: ``(seed, sample_ids, labels [N], proba [N, K])`` per seed.
        what: names the predictions in error messages.

    Returns:
        The stacked :class:`SampleSet`.

    Raises:
        HarnessError: no seeds, a duplicate sample id, or seeds that disagree about
            the samples or their labels.
    """
    if not seeds:
        raise HarnessError(f"{what}: no stored predictions")
    stacked = []
    ref_ids: tuple[str, ...] = ()
    ref_labels = np.empty(0, dtype=np.int64)
    for i, (seed, ids, labels, proba) in enumerate(seeds):
        ids, labels, proba = _sorted_by_id(ids, labels, proba, f"{what} (seed {seed})")
        if proba.shape != (len(ids), len(classes)):
            raise HarnessError(f"{what} (seed {seed}): probabilities of shape {proba.shape} for {len(ids)} samples")
        if i == 0:
            ref_ids, ref_labels = ids, labels
        elif ids != ref_ids or not np.array_equal(labels, ref_labels):
            raise HarnessError(f"{what}: seed {seed} was evaluated on other samples than seed {seeds[0][0]}")
        stacked.append(proba)
    return SampleSet(tuple(classes), ref_ids, ref_labels, np.stack(stacked), tuple(s[0] for s in seeds))


def check_same_samples(a: SampleSet, b: SampleSet, name_a: str, name_b: str) -> None:
    """Refuse to pair two sets of predictions that are not on the same samples.

    Raises:
        HarnessError: the classes, sample ids or labels differ; the message says how.
    """
    if a.classes != b.classes:
        raise HarnessError(f"{name_a} and {name_b} have different classes: {list(a.classes)} vs {list(b.classes)}")
    if a.sample_ids != b.sample_ids:
        only_a = sorted(set(a.sample_ids) - set(b.sample_ids))
        only_b = sorted(set(b.sample_ids) - set(a.sample_ids))
        raise HarnessError(
            f"{name_a} ({len(a.sample_ids)} samples) and {name_b} ({len(b.sample_ids)} samples) were not evaluated "
            f"on the same test set: {len(only_a)} ids only in the first (e.g. {only_a[:3]}), "
            f"{len(only_b)} only in the second (e.g. {only_b[:3]})"
        )
    differ = np.flatnonzero(a.labels != b.labels)
    if differ.size:
        ids = [a.sample_ids[i] for i in differ[:3]]
        raise HarnessError(f"{name_a} and {name_b} disagree about the labels of {differ.size} samples, e.g. {ids}")
