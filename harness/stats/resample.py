"""Seeded bootstrap resamples of a test set, stratified by class, as count matrices.

Stratified resampling draws, for every class, as many samples of that class (with
replacement) as the test set holds, so each resample keeps the class counts of the test
set: per-class and macro metrics and the AUROC stay defined in every resample, and the
interval reflects which samples were drawn rather than how many of each class.

A resample is returned as counts: row ``r`` says how often each sample was drawn. The
resamples come in chunks of :data:`CHUNK` rows, so a large test set never needs the whole
``[R, N]`` matrix in memory; the chunks depend only on the labels, ``n_resamples`` and
``seed``, so every consumer (two rows of a paired test, two runs of a comparison) sees
the very same resamples.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK = 128
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


class Resampler:
    """Class-stratified bootstrap resamples of one test set.

    Args:
        labels: ``[N]`` class labels of the test set (in the order the predictions use).
        n_resamples: ``R``.
        seed: seed of the random generator.
    """

    def __init__(self, labels: np.ndarray, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED):
        self.labels = np.asarray(labels, dtype=np.int64).ravel()
        self.n_resamples = int(n_resamples)
        self.seed = int(seed)
        self._groups = [np.flatnonzero(self.labels == k) for k in np.unique(self.labels)]

    def indices(self) -> Iterator[np.ndarray]:
        """Chunks of drawn sample indices, ``[r, N]`` each, ``R`` rows in total."""
        rng = np.random.default_rng(self.seed)
        for start in range(0, self.n_resamples, CHUNK):
            r = min(CHUNK, self.n_resamples - start)
            if not self._groups:  # an empty test set: nothing to draw
                yield np.zeros((r, 0), dtype=np.int64)
                continue
            yield np.concatenate([g[rng.integers(0, len(g), size=(r, len(g)))] for g in self._groups], axis=1)

    def chunks(self) -> Iterator[np.ndarray]:
        """Chunks of counts, ``[r, N]`` float64 each: how often each sample was drawn."""
        n = len(self.labels)
        for idx in self.indices():
            r = idx.shape[0]
            flat = (np.arange(r)[:, None] * n + idx).ravel()
            yield np.bincount(flat, minlength=r * n).reshape(r, n).astype(np.float64)
