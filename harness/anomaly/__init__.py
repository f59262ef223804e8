"""Anomaly detection: one-class models, their metrics and operating points.

* :mod:`~harness.anomaly.model`: :class:`OneClassModel`, the contract of a model trained on
  normal images that scores any image;
* :mod:`~harness.anomaly.metrics`: image AUROC / AUPR / F1-max, pixel AUROC and AUPRO;
* :mod:`~harness.anomaly.operating`: the validation-chosen threshold and the monotone map
  from scores to ``p(defect)``; operating points with recall and false-alarm rate.
"""
