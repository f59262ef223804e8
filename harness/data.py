"""What a dataset plugin returns: decoded uint8 arrays per split, masks and metadata.

Splits hold every image decoded once (``[N, H, W, C]`` uint8, C = 1 or 3), so the
training loop never touches files. Large datasets may back ``images`` by ``np.memmap``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes:
        images: ``[N, H, W, C]`` uint8.
        labels: ``[N]`` int64 class indices into ``Dataset.classes``.
        sample_ids: ``N`` unique, stable strings (file names, crop coordinates...).
        masks: optional ``[N, H, W]`` uint8 pixel masks, 1 inside a defect.
        has_mask: optional ``[N]`` bool, which samples carry a real mask (a normal
            sample's all-zero mask counts as real).
        meta: optional per-sample metadata dicts (defect type, category...).
    """

    images: np.ndarray
    labels: np.ndarray
    sample_ids: tuple[str, ...]
    masks: np.ndarray | None = None
    has_mask: np.ndarray | None = None
    meta: tuple[dict[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be [N, H, W, C] uint8, got {self.images.dtype} {self.images.shape}")
        if len(self.images) != n or len(self.sample_ids) != n:
            raise ValueError(f"split has {len(self.images)} images, {n} labels, {len(self.sample_ids)} ids")
        if len(set(self.sample_ids)) != n:
            raise ValueError("sample ids within a split must be unique")
        if self.masks is not None and self.masks.shape != self.images.shape[:3]:
            raise ValueError(f"masks {self.masks.shape} do not match images {self.images.shape[:3]}")

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self, num_classes: int) -> list[int]:
        return np.bincount(self.labels, minlength=num_classes).tolist()


@dataclass(frozen=True)
class Dataset:
    """Three splits over one list of classes.

    Attributes:
        classes: class names, index = label. Names are lower-case identifiers
            (``normal``, ``defect``) because metric keys embed them (``f1_normal``).
        train, val, test: the splits.
        fingerprint: a hash of everything that determines the data; defaults to a hash
            of the arrays, which plugins may replace with something cheaper.
    """

    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint_splits(self))

    def split(self, name: str) -> Split:
        return getattr(self, name)


def fingerprint_splits(dataset: Dataset) -> str:
    """A sha256 over classes, ids, labels and pixels of every split (first 16 hex)."""
    h = hashlib.sha256(repr(dataset.classes).encode())
    for name in SPLITS:
        s = dataset.split(name)
        h.update("\0".join(s.sample_ids).encode())
        h.update(np.ascontiguousarray(s.labels, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(s.images).tobytes())
        if s.masks is not None:
            h.update(np.ascontiguousarray(s.masks).tobytes())
    return h.hexdigest()[:16]
