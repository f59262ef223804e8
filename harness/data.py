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
        skipped: files left out because they could not be read (``on_corrupt =
            "skip"``), as ``(split, file, reason)``; every run records them in
            ``skipped.csv`` and the leaderboard counts them.
    """

    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    fingerprint: str = field(default="")
    skipped: tuple[tuple[str, str, str], ...] = ()

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


def _concat(a: Split, b: Split) -> Split:
    def both(x, y):
        return None if x is None or y is None else np.concatenate([x, y])

    meta = (a.meta + b.meta) if a.meta is not None and b.meta is not None else None
    return Split(np.concatenate([a.images, b.images]), np.concatenate([a.labels, b.labels]),
                 a.sample_ids + b.sample_ids, both(a.masks, b.masks), both(a.has_mask, b.has_mask), meta)


def take_split(split: Split, index: np.ndarray) -> Split:
    """The samples of ``split`` at ``index``, in that order."""
    def pick(x):
        return None if x is None else x[index]

    meta = tuple(split.meta[i] for i in index) if split.meta is not None else None
    return Split(split.images[index], split.labels[index], tuple(split.sample_ids[i] for i in index),
                 pick(split.masks), pick(split.has_mask), meta)


def fold_dataset(dataset: Dataset, k: int, index: int, seed: int = 0) -> Dataset:
    """Fold ``index`` of a stratified ``k``-fold split of train + val; test is unchanged.

    The fold's samples become the validation split (its out-of-fold predictions), the
    other folds the training split. Folds depend on ``seed`` only, not on training seeds,
    so every configuration sees the same folds.
    """
    from sklearn.model_selection import StratifiedKFold

    pool = _concat(dataset.train, dataset.val)
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(pool)), pool.labels)
    train_index, val_index = list(folds)[index]
    return Dataset(dataset.classes, take_split(pool, np.sort(train_index)), take_split(pool, np.sort(val_index)), dataset.test,
                   fingerprint=hashlib.sha256(f"{dataset.fingerprint}/fold{index}of{k}/{seed}".encode()).hexdigest()[:16],
                   skipped=dataset.skipped)
