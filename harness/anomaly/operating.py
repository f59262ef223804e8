"""Operating points: a threshold chosen on validation, and scores turned into ``p(defect)``.

A one-class model outputs an unbounded anomaly score. To rank it beside classifiers, the
harness fits one rule on the validation split only:

* the threshold ``t`` (``threshold = "f1"``, the default: the F1-max threshold;
  ``{ fpr = 0.01 }``: the lowest threshold whose false-alarm rate on validation normals
  is at most 1%; ``{ recall = 0.99 }``: the highest threshold that still finds 99% of the
  validation defects);
* a scale ``s``, the standard deviation of the validation scores;

(a validation split without defects gets ``{ fpr = 0.01 }`` instead of F1), then
``p(defect) = 1 / (1 + exp(-(score - t) / s))``: monotone in the score (so AUROC,
AUPR and F1-max are those of the score), and exactly 0.5 at ``t``, so the predicted
class (``p(defect) >= 0.5``) is the thresholded decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.anomaly.metrics import f1_max
from harness.errors import HarnessError

RULES = ("f1", "fpr", "recall")
FALLBACK_RULE = {"fpr": 0.01}
"""The rule used when validation holds no defects to place an F1 threshold."""


def parse_rule(rule: Any) -> tuple[str, float]:
    """``"f1"`` or a one-key table ``{fpr = x}`` / ``{recall = x}`` as ``(name, value)``."""
    if rule in (None, "f1"):
        return "f1", math.nan
    if isinstance(rule, dict) and len(rule) == 1:
        (name, value), = rule.items()
        if name in ("fpr", "recall") and isinstance(value, int | float) and not isinstance(value, bool) \
                and 0 < value <= 1:
            return name, float(value)
    raise HarnessError(f'threshold must be "f1", {{ fpr = x }} or {{ recall = x }} with 0 < x <= 1, got {rule!r}')


def choose_threshold(labels: np.ndarray, scores: np.ndarray, rule: Any = "f1") -> float:
    """The threshold ``rule`` picks on these (validation) labels and scores; ``score >= t`` is a defect."""
    name, value = parse_rule(rule)
    labels, scores = (np.asarray(labels) > 0), np.asarray(scores, dtype=np.float64)
    if name == "f1":
        if not labels.any():
            raise HarnessError("the F1 threshold needs defects in the validation split; it has none")
        return f1_max(labels, scores)[1]
    if name == "fpr":
        normal = np.sort(scores[~labels])[::-1]
        if len(normal) == 0:
            raise HarnessError("an fpr threshold needs normal images in the validation split; it has none")
        allowed = int(math.floor(value * len(normal) + 1e-9))  # normals that may score >= t
        # t just above the (allowed+1)-th highest normal score: at most `allowed` false alarms
        return float(np.nextafter(normal[allowed], np.inf)) if allowed < len(normal) else float(normal[-1])
    defect = np.sort(scores[labels])
    if len(defect) == 0:
        raise HarnessError("a recall threshold needs defects in the validation split; it has none")
    missed = int(math.floor((1 - value) * len(defect) + 1e-9))  # defects that may score < t
    return float(defect[min(missed, len(defect) - 1)])


@dataclass(frozen=True)
class ScoreCalibration:
    """The validation-fitted map from anomaly scores to class probabilities.

    Attributes:
        threshold: ``t``; ``p(defect) = 0.5`` there.
        scale: ``s`` > 0.
        rule: how ``t`` was chosen (``"f1"``, ``{"fpr": x}``, ``{"recall": x}``).
    """

    threshold: float
    scale: float
    rule: Any = "f1"

    @classmethod
    def fit(cls, labels: np.ndarray, scores: np.ndarray, rule: Any = "f1") -> ScoreCalibration:
        """Fit on validation. A validation split without defects (a benchmark's normal-only
        carve) cannot place an F1 threshold: ``{ fpr = 0.01 }`` on its normals is used, and
        :attr:`rule` says so."""
        scores = np.asarray(scores, dtype=np.float64)
        spread = float(np.std(scores))
        if parse_rule(rule)[0] == "f1" and not (np.asarray(labels) > 0).any():
            rule = FALLBACK_RULE
        return cls(choose_threshold(labels, scores, rule), spread if spread > 0 else 1.0, rule)

    def defect_probability(self, scores: np.ndarray) -> np.ndarray:
        z = (np.asarray(scores, dtype=np.float64) - self.threshold) / self.scale
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow

    def proba(self, scores: np.ndarray, defect_index: int) -> np.ndarray:
        """``[N, 2]`` class probabilities, ``p(defect)`` in column ``defect_index``."""
        p = self.defect_probability(scores)
        out = np.empty((len(p), 2))
        out[:, defect_index], out[:, 1 - defect_index] = p, 1.0 - p
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "scale": self.scale, "rule": self.rule}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreCalibration:
        return cls(float(data["threshold"]), float(data["scale"]), data.get("rule", "f1"))


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Counts and rates of ``score >= threshold`` as the defect decision."""
    labels, flagged = np.asarray(labels) > 0, np.asarray(scores, dtype=np.float64) >= threshold
    tp, fn = int((flagged & labels).sum()), int((~flagged & labels).sum())
    fp, tn = int((flagged & ~labels).sum()), int((~flagged & ~labels).sum())
    return {"tp": tp, "fn": fn, "fp": fp, "tn": tn,
            "recall": tp / (tp + fn) if tp + fn else math.nan,
            "false_alarm_rate": fp / (fp + tn) if fp + tn else math.nan,
            "precision": tp / (tp + fp) if tp + fp else math.nan}
