"""Statistics over per-sample test predictions: intervals, paired tests, calibration.

Every model configuration (a leaderboard row) is evaluated on the same stored test set,
so uncertainty is about that finite set of samples. The modules here work on plain
numpy arrays and share one representation of a bootstrap resample: a ``[R, N]`` matrix
of counts saying how often each of the ``N`` samples is drawn in each of ``R``
resamples. A metric computed with those counts as sample weights is the metric of the
resampled test set, so every resample is evaluated with a few matrix products instead
of a Python loop.

- :mod:`~harness.stats.samples`: a row's predictions with its seeds stacked, aligned by
  sample id; the test-set fingerprint.
- :mod:`~harness.stats.resample`: seeded, class-stratified resample counts.
- :mod:`~harness.stats.weighted`: classification metrics under sample weights.
- :mod:`~harness.stats.calibration`: ECE, Brier scores, reliability curves.
- :mod:`~harness.stats.bootstrap`: percentile intervals of every metric.
- :mod:`~harness.stats.paired`: McNemar, paired bootstrap, Holm; rows against the top
  row and deltas between two runs.
- :mod:`~harness.stats.pareto`: the cost/quality Pareto front.
"""

from __future__ import annotations
