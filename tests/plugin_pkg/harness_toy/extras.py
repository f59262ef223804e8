"""An ensemble, a TTA view and merge, and a scheduler, written against the public API only."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import Ensemble, HarnessError, Schedule, TTAMerge, TTAView
from harness import options as opt


class MedianVote(Ensemble):
    """Per-class median of the members' probabilities, renormalised; optionally trimmed.

    Args:
        floor: probabilities below it count as zero before the median (0 keeps all).
    """

    OPTIONS = opt.Options("ensemble 'toy-median'", floor=opt.Float(0.0, min=0, lt=1))

    def __init__(self, floor: float = 0.0):
        self.floor = floor

    def fit(self, proba: np.ndarray, labels: np.ndarray) -> MedianVote:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.ndim != 3:
            raise HarnessError(f"toy-median needs [members, samples, classes], got {proba.shape}")
        self.n_members_ = proba.shape[0]
        return self

    def predict_proba(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=np.float64)
        scores = np.median(np.where(proba < self.floor, 0.0, proba), axis=0)  # [N, K]
        scores = np.where(scores.sum(axis=1, keepdims=True) > 0, scores, 1.0)  # an all-zero row becomes uniform
        return scores / scores.sum(axis=1, keepdims=True)


def invert() -> TTAView:
    """The photographic negative of each image (values stay in [0, 255])."""
    return TTAView("toy-invert", lambda images: 255.0 - images)


def median() -> TTAMerge:
    """Per-class median over the views, renormalised."""

    def merge(proba: np.ndarray) -> np.ndarray:
        scores = np.median(proba, axis=0)
        return scores / scores.sum(axis=-1, keepdims=True)

    return TTAMerge("toy-median", merge)


class SquareCycles:
    """A step-wise warm-restart schedule: full lr for the first half of each cycle, then ``low``."""

    OPTIONS = opt.Options("scheduler 'toy-square-cycles'", cycle=opt.Int(2, min=1, doc="epochs per cycle"),
                          low=opt.Float(0.1, gt=0, lt=1, doc="fraction of the lr in each cycle's second half"))

    @staticmethod
    def build(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
        settings = SquareCycles.OPTIONS.resolve(options)
        cycle, low = settings["cycle"] * steps_per_epoch, settings["low"]
        from torch.optim.lr_scheduler import LambdaLR

        scheduler = LambdaLR(optimizer, lambda step: 1.0 if step % cycle < cycle / 2 else low)
        ends = tuple(range(settings["cycle"], epochs + 1, settings["cycle"]))
        return Schedule(scheduler, interval="step", cycle_end_epochs=ends)
