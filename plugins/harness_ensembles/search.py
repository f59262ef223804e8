"""Ensemble weights tuned by Optuna: the one module that imports it.

Search space, one-to-one with ``suggest_*``: ``w<m> ~ suggest_float(0, 1)`` for each
member ``m``; weights are normalised to sum to one (all zero means uniform). The first
trial is the uniform ensemble, so the result is never worse on validation than plain
averaging. The TPE sampler is seeded, so a search is reproducible.
"""

from __future__ import annotations

import numpy as np

from harness_ensembles.arrays import SCORES, weighted_mean


def _normalise(raw: np.ndarray) -> np.ndarray:
    total = raw.sum()
    return raw / total if total > 0 else np.full(raw.size, 1.0 / raw.size)


def optuna_weights(proba: np.ndarray, labels: np.ndarray, *, metric: str = "log_loss", n_trials: int = 50,
                   seed: int = 0) -> np.ndarray:
    """Weights found by a seeded TPE study on ``proba`` (validation) and ``labels``.

    Args:
        proba: ``[M, N, K]`` validation probabilities.
        labels: ``[N]`` validation labels.
        metric: a key of :data:`harness_ensembles.arrays.SCORES`.
        n_trials: trials of the study.
        seed: sampler seed.

    Returns:
        ``[M]`` normalised weights of the best trial.
    """
    import optuna

    score, higher = SCORES[metric]
    names = [f"w{m}" for m in range(proba.shape[0])]

    def objective(trial: optuna.Trial) -> float:
        raw = np.array([trial.suggest_float(name, 0.0, 1.0) for name in names])
        return score(weighted_mean(proba, _normalise(raw)), labels)

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial drowns the run's log
    try:
        study = optuna.create_study(direction="maximize" if higher else "minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
        study.enqueue_trial({name: 1.0 for name in names})
        study.optimize(objective, n_trials=n_trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return _normalise(np.array([study.best_params[name] for name in names]))
