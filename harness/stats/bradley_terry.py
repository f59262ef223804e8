"""Bradley-Terry strengths from paired per-sample wins.

Model ``i`` beats model ``j`` on a sample when it is right and ``j`` is wrong; with
several seeds a sample counts the expected win of a random seed of each,
``right_i * (1 - right_j)``, ``right`` being the share of seeds right. Wins are summed
over every sample of every experiment both models appear in. The Bradley-Terry model
``P(i beats j) = s_i / (s_i + s_j)`` is fitted by maximum likelihood with Hunter's
minorise-maximise iteration ``s_i <- W_i / sum_j n_ij / (s_i + s_j)`` (``W_i`` the wins
of ``i``, ``n_ij`` the decisive comparisons of the pair), scores reported as
``log(s_i)`` centred on zero. Intervals come from resampling the test samples of each
experiment (with replacement) and refitting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from harness.stats.bootstrap import percentile_interval


def pair_wins(right: np.ndarray) -> np.ndarray:
    """``[M, M]`` wins from ``[M, N]`` shares of seeds right: entry ``[i, j]`` is i's wins over j."""
    right = np.asarray(right, dtype=np.float64)
    wins = right @ (1.0 - right).T
    np.fill_diagonal(wins, 0.0)
    return wins


def bradley_terry(wins: np.ndarray, *, iterations: int = 10_000, tol: float = 1e-12) -> np.ndarray:
    """Centred log-strengths of ``[M, M]`` win counts (NaN for a model with no comparison).

    A model that never loses (or never wins) has no finite maximum-likelihood strength;
    a tiny pseudo-count (1e-6 of a win each way per compared pair) keeps the estimate
    finite and leaves every other case unchanged to display precision.
    """
    wins = np.asarray(wins, dtype=np.float64)
    games = wins + wins.T
    compared = games.sum(axis=1) > 0
    w = wins + 1e-6 * (games > 0)
    games = w + w.T
    s = np.ones(len(w))
    total = w.sum(axis=1)
    for _ in range(iterations):
        with np.errstate(divide="ignore", invalid="ignore"):
            den = np.nansum(np.where(games > 0, games / (s[:, None] + s[None, :]), 0.0), axis=1)
            new = np.where(compared, total / den, 1.0)
        new /= math.exp(np.mean(np.log(new[compared]))) if compared.any() else 1.0
        if np.max(np.abs(new - s)) < tol:
            s = new
            break
        s = new
    out = np.log(s)
    out[~compared] = np.nan
    return out - np.nanmean(out) if compared.any() else out


def bootstrap_scores(
    rights: Sequence[np.ndarray], n_resamples: int = 200, seed: int = 0, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(score, low, high)`` per model from per-experiment ``[M, N_e]`` shares right.

    A model absent from an experiment has NaN rows there (it takes part in no pair).
    """
    def fit(parts: Sequence[np.ndarray]) -> np.ndarray:
        total = sum(pair_wins(np.nan_to_num(p, nan=0.0)) * _present(p) for p in parts)
        return bradley_terry(total)

    point = fit(rights)
    rng = np.random.default_rng(seed)
    rounds = []
    for _ in range(n_resamples):
        rounds.append(fit([p[:, rng.integers(0, p.shape[1], p.shape[1])] for p in rights]))
    rounds = np.asarray(rounds)
    bounds = np.array([percentile_interval(rounds[:, i], level) for i in range(len(point))])
    return point, bounds[:, 0], bounds[:, 1]


def _present(right: np.ndarray) -> np.ndarray:
    """``[M, M]`` 1 where both models were evaluated in this experiment."""
    here = ~np.isnan(right).all(axis=1)
    return (here[:, None] & here[None, :]).astype(np.float64)
