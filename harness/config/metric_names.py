"""Which metrics a run will record, known before training so ``rank_by`` and ``select_by``
are checked by ``harness validate``.

Each registered metric function is called once on a small made-up prediction set (two
passes: without maps, and with the map names models store), so the names come from the
plugins themselves. Per-class names are recognised by a placeholder class name. When the
dataset's classes are not known without reading the data, any class suffix is accepted,
except one that is a near-miss of a class-independent name (``f1_macroo``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

_PLACEHOLDER = ("zzclassa", "zzclassb", "zzclassc")
_MAP_NAMES = ("cam", "attention", "localization", "anomaly")
# Recorded by the training loop and evaluation beside the metric plugins' names.
_LOOP = {"val": ("loss",), "test": ("loss", "infer_seconds", "images_per_second", "latency_ms", "tta_infer_seconds",
                                   "recall_at_threshold", "false_alarm_rate")}
# Computed by the leaderboard from stored predictions (rank_by only).
_FROM_PREDICTIONS = ("ece", "brier", "brier_positive_class")


@dataclass(frozen=True)
class MetricNames:
    """Names of one split's metrics.

    Attributes:
        fixed: class-independent names (``f1_macro``) and, when classes are known, the
            per-class names.
        per_class: prefixes of per-class names (``f1_``) when classes are unknown.
        complete: False when a metric plugin could not be probed (then nothing is rejected).
    """

    fixed: frozenset[str]
    per_class: tuple[str, ...]
    complete: bool

    def problem(self, split: str, name: str) -> str | None:
        """Why ``split.name`` will not exist, with did-you-mean; None when it will."""
        if not self.complete or name in self.fixed:
            return None
        close = difflib.get_close_matches(name, sorted(self.fixed), n=3, cutoff=0.6)
        near = difflib.get_close_matches(name, sorted(self.fixed), n=1, cutoff=0.85)
        if not near and any(name.startswith(p) and re.fullmatch(r"[a-z0-9_]+", name[len(p):]) for p in self.per_class):
            return None  # a per-class metric of a class only the data will tell
        hint = f" Did you mean {' or '.join(repr(f'{split}.{c}') for c in close)}?" if close else ""
        shown = sorted(self.fixed) + [f"{p}<class>" for p in self.per_class]
        return f"no metric {name!r} will be recorded for {split}.{hint} Available: {', '.join(shown)}"


def dataset_classes(dataset: dict[str, Any]) -> tuple[str, ...] | None:
    """The classes a dataset config will have, when known without reading any data."""
    classes = dataset.get("classes")
    if isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes):
        return tuple(classes)
    return None


def _probe_set(classes: tuple[str, ...], with_maps: bool):  # -> PredictionSet
    from harness.predictions import PredictionSet

    k = len(classes)
    n = 4 * k
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(k), size=n)
    labels = np.arange(n) % k
    maps, masks, has_mask = {}, None, None
    if with_maps:
        maps = {name: rng.random((n, 8, 8)).astype(np.float32) for name in _MAP_NAMES}
        masks = np.zeros((n, 8, 8), np.uint8)
        masks[:, 2:6, 2:6] = (labels > 0)[:, None, None]
        has_mask = np.ones(n, bool)
    return PredictionSet(classes, tuple(f"s{i}" for i in range(n)), labels, proba, maps, masks, has_mask)


def metric_names(registry: Any, classes: tuple[str, ...] | None) -> MetricNames:
    """Every metric name the registered metric functions give for these classes."""
    probe = classes if classes else _PLACEHOLDER[:2]
    names: set[str] = set()
    complete = True
    for entry in registry:
        for with_maps in (False, True):
            try:
                names |= set(entry.factory(_probe_set(tuple(probe), with_maps)))
            except Exception:  # noqa: BLE001 - a metric that cannot be probed is not held against the file
                complete = False
    per_class: set[str] = set()
    if not classes:
        for name in list(names):
            for placeholder in probe:
                if name.endswith(f"_{placeholder}") or name.endswith(placeholder):
                    per_class.add(name[: len(name) - len(placeholder)])
                    names.discard(name)
    return MetricNames(frozenset(names), tuple(sorted(per_class)), complete)


def metric_problems(rank_by: Any, select_by: Any, dataset: dict[str, Any], registry: Any) -> list[tuple[str, str]]:
    """``(key, message)`` for ``rank_by`` / ``select_by`` values no cell will record."""
    base = metric_names(registry, dataset_classes(dataset))
    found = []
    for key, value, splits in (("rank_by", rank_by, ("val", "test")), ("select_by", select_by, ("val",))):
        if not isinstance(value, str) or "." not in value:
            continue
        split, name = value.split(".", 1)
        if split not in splits:
            continue
        extra = _LOOP.get(split, ()) + (_FROM_PREDICTIONS if key == "rank_by" else ())
        names = MetricNames(base.fixed | set(extra), base.per_class, base.complete)
        message = names.problem(split, name)
        if message:
            found.append((key, message))
    return found
