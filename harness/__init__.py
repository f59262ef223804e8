"""harness: a plugin-based ensemble benchmarking harness for image classification and
visual defect detection.

The public API a plugin or a user needs lives here; heavy modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from harness.errors import ConfigError, HarnessError, PluginLoadError, UnknownNameError

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("harness")
"""Marker for plugin hook implementations: ``@hookimpl def harness_register_models(registry): ...``"""

if TYPE_CHECKING:
    from harness.data import Dataset, Split
    from harness.model import Batch
    from harness.options import Problem
    from harness.preprocess import Preprocessing
    from harness.predictions import PredictionSet
    from harness.registry import Registry
    from harness.schedule import Schedule
    from harness.store import Run
    from harness.tta.types import TTAMerge, TTAView

_LAZY = {
    "Dataset": "harness.data",
    "Split": "harness.data",
    "Batch": "harness.model",
    "PredictionSet": "harness.predictions",
    "Run": "harness.store",
    "load_run": "harness.store",
    "Schedule": "harness.schedule",
    "Problem": "harness.options",
    "Preprocessing": "harness.preprocess",
    "Registry": "harness.registry",
    "TTAView": "harness.tta.types",
    "TTAMerge": "harness.tta.types",
}

__all__ = [
    "Batch",
    "ConfigError",
    "Dataset",
    "HarnessError",
    "PluginLoadError",
    "PredictionSet",
    "Preprocessing",
    "Problem",
    "Registry",
    "Run",
    "Schedule",
    "Split",
    "TTAMerge",
    "TTAView",
    "UnknownNameError",
    "__version__",
    "hookimpl",
    "load_run",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
