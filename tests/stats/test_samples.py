"""Aligning a row's seeds by sample id, and the test-set fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from harness import HarnessError
from harness.stats.samples import check_same_samples, fingerprint, stack_seeds

CLASSES = ("a", "b")


def test_fingerprint_ignores_order_and_sees_labels() -> None:
    ids, labels = ["x", "y", "z"], [0, 1, 1]
    assert fingerprint(ids, labels) == fingerprint(["z", "x", "y"], [1, 0, 1])
    assert fingerprint(ids, labels) != fingerprint(ids, [0, 1, 0])
    assert fingerprint(ids, labels) != fingerprint(["x", "y", "w"], labels)
    assert len(fingerprint(ids, labels)) == 16


def test_seeds_are_aligned_by_sample_id() -> None:
    p0 = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    order = [2, 0, 1]
    stacked = stack_seeds(
        CLASSES,
        [
            (0, ["s1", "s2", "s3"], np.array([0, 1, 0]), p0),
            (1, ["s3", "s1", "s2"], np.array([0, 0, 1]), p0[order] / 2 + 0.25),
        ],
    )
    assert stacked.sample_ids == ("s1", "s2", "s3") and stacked.seeds == (0, 1)
    np.testing.assert_array_equal(stacked.labels, [0, 1, 0])
    np.testing.assert_allclose(stacked.proba[1], p0 / 2 + 0.25)
    np.testing.assert_allclose(stacked.mean_proba(), (p0 + p0 / 2 + 0.25) / 2)


def test_mismatches_are_refused_clearly() -> None:
    p = np.full((2, 2), 0.5)
    with pytest.raises(HarnessError, match="seed 1 was evaluated on other samples than seed 0"):
        stack_seeds(CLASSES, [(0, ["a", "b"], np.array([0, 1]), p), (1, ["a", "c"], np.array([0, 1]), p)])
    with pytest.raises(HarnessError, match="'a' occurs more than once"):
        stack_seeds(CLASSES, [(0, ["a", "a"], np.array([0, 1]), p)])
    one = stack_seeds(CLASSES, [(0, ["a", "b"], np.array([0, 1]), p)])
    other_ids = stack_seeds(CLASSES, [(0, ["a", "c"], np.array([0, 1]), p)])
    other_labels = stack_seeds(CLASSES, [(0, ["a", "b"], np.array([1, 1]), p)])
    with pytest.raises(
        HarnessError, match=r"not evaluated on the same test set: 1 ids only in the first \(e.g. \['b'\]\)"
    ):
        check_same_samples(one, other_ids, "top", "row")
    with pytest.raises(HarnessError, match=r"disagree about the labels of 1 samples, e.g. \['a'\]"):
        check_same_samples(one, other_labels, "top", "row")
