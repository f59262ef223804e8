"""harness: a plugin-based ensemble benchmarking harness for image classification and
visual defect detection.

The public API a plugin or a user needs lives here; heavy modules load on first use.
What a plugin registers: ``Registry`` (passed to every ``harness_register_*`` hook),
``Problem`` and :mod:`harness.options` (option checks), ``Dataset``/``Split``,
``Batch``, ``Schedule``, ``Ensemble``, ``TTAView``/``TTAMerge``, ``Tracker``/``TrackedCell``. Helpers for dataset
plugins: ``load_stack``, ``Decoded``, ``cache_dir``, ``RESIZE_METHODS`` (the decode-once
image cache); for metric plugins: ``classification_metrics``, ``confusion_matrix``,
``per_class_scores``, ``roc_auc``, ``roc_auc_ovr``. Contract tests: :mod:`harness.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from harness.errors import ConfigError, HarnessError, PluginLoadError, UnknownNameError

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("harness")
"""Marker for plugin hook implementations: ``@hookimpl def harness_register_models(registry): ...``"""

if TYPE_CHECKING:
    from harness.anomaly.metrics import anomaly_metrics
    from harness.anomaly.model import OneClassModel
    from harness.cache import RESIZE_METHODS, Decoded, cache_dir, load_stack
    from harness.data import Dataset, Split
    from harness.ensembles.types import Ensemble
    from harness.metrics import classification_metrics, confusion_matrix, per_class_scores, roc_auc, roc_auc_ovr
    from harness.model import Batch
    from harness.options import Problem
    from harness.predict import Prediction, Predictor
    from harness.predictions import PredictionSet
    from harness.preprocess import Preprocessing
    from harness.registry import Registry
    from harness.schedule import Schedule
    from harness.store import Run
    from harness.tracking import TrackedCell, Tracker
    from harness.tta.types import TTAMerge, TTAView

_LAZY = {
    "Dataset": "harness.data",
    "Split": "harness.data",
    "Batch": "harness.model",
    "PredictionSet": "harness.predictions",
    "Run": "harness.store",
    "load_run": "harness.store",
    "Schedule": "harness.schedule",
    "OneClassModel": "harness.anomaly.model",
    "anomaly_metrics": "harness.anomaly.metrics",
    "Problem": "harness.options",
    "Predictor": "harness.predict",
    "Prediction": "harness.predict",
    "Preprocessing": "harness.preprocess",
    "Registry": "harness.registry",
    "TTAView": "harness.tta.types",
    "Tracker": "harness.tracking",
    "TrackedCell": "harness.tracking",
    "TTAMerge": "harness.tta.types",
    "Ensemble": "harness.ensembles.types",
    "Decoded": "harness.cache",
    "RESIZE_METHODS": "harness.cache",
    "cache_dir": "harness.cache",
    "load_stack": "harness.cache",
    "classification_metrics": "harness.metrics",
    "confusion_matrix": "harness.metrics",
    "per_class_scores": "harness.metrics",
    "roc_auc": "harness.metrics",
    "roc_auc_ovr": "harness.metrics",
}

__all__ = [
    "RESIZE_METHODS",
    "Batch",
    "ConfigError",
    "Dataset",
    "Decoded",
    "Ensemble",
    "HarnessError",
    "OneClassModel",
    "PluginLoadError",
    "Prediction",
    "PredictionSet",
    "Predictor",
    "Preprocessing",
    "Problem",
    "Registry",
    "Run",
    "Schedule",
    "Split",
    "TTAMerge",
    "TTAView",
    "TrackedCell",
    "Tracker",
    "UnknownNameError",
    "__version__",
    "anomaly_metrics",
    "cache_dir",
    "classification_metrics",
    "confusion_matrix",
    "hookimpl",
    "load_run",
    "load_stack",
    "per_class_scores",
    "roc_auc",
    "roc_auc_ovr",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
