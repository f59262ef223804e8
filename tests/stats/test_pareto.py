"""The Pareto front on hand-made points."""

from __future__ import annotations

import numpy as np

from harness.stats.pareto import pareto_front


def test_front_by_hand() -> None:
    latency = np.array([1.0, 2.0, 3.0, 2.5, 5.0, np.nan])
    accuracy = np.array([0.70, 0.80, 0.90, 0.75, 0.90, 0.99])
    # 2.5/0.75 is beaten by 2.0/0.80; 5.0/0.90 by 3.0/0.90 (as good, faster); NaN latency is never on it
    np.testing.assert_array_equal(pareto_front(latency, accuracy), [True, True, True, False, False, False])


def test_lower_is_better_values_and_duplicates() -> None:
    cost = np.array([1.0, 1.0, 2.0, 3.0])
    loss = np.array([0.5, 0.5, 0.4, 0.6])
    # the two identical points do not dominate each other; 3.0/0.6 is dominated
    np.testing.assert_array_equal(pareto_front(cost, loss, higher_is_better=False), [True, True, True, False])
