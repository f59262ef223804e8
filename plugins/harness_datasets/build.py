"""Records to a ``harness.Dataset``: decode once through the cache, apply ``on_corrupt``."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness import Dataset, Decoded, HarnessError, Split, load_stack
from harness_datasets.records import Record, listing, plural

SPLITS = ("train", "val", "test")


def _check_records(plugin: str, splits: Mapping[str, Sequence[Record]], hint: str) -> None:
    for name in SPLITS:
        if not splits[name]:
            raise HarnessError(f"dataset {plugin!r}: the {name} split is empty{'; ' + hint if hint else ''}")
        duplicated = [sid for sid, n in Counter(r.sample_id for r in splits[name]).items() if n > 1]
        if duplicated:
            raise HarnessError(f"dataset {plugin!r}: {plural(len(duplicated), 'sample')} listed twice in the "
                               f"{name} split:\n{listing(duplicated)}")
    missing = [f for name in SPLITS for r in splits[name] for f in (r.path, r.mask) if f is not None and not f.is_file()]
    if missing:
        raise HarnessError(f"dataset {plugin!r}: {plural(len(missing), 'listed file')} not found:\n{listing(missing)}")


def _decode(records: Sequence[Record], root: Path, opts: Mapping[str, Any]) -> tuple[Decoded, Decoded | None]:
    labels = [r.label for r in records]
    common = {"root": root, "image_size": opts["image_size"], "resize": opts["resize"], "workers": opts["workers"]}
    images = load_stack([r.path for r in records], kind="image", labels=labels, **common)
    if all(r.has_mask is None for r in records):
        return images, None
    mask_files = [r.mask if r.has_mask else None for r in records]
    return images, load_stack(mask_files, kind="mask", **common)


def _failures(records: Sequence[Record], images: Decoded, masks: Decoded | None) -> dict[int, str]:
    failed = {i: f"{records[i].path}: {why}" for i, why in images.failed.items()}
    if masks is not None:
        for i, why in masks.failed.items():
            failed.setdefault(i, f"{records[i].mask} (mask): {why}")
    return failed


def _split(records: Sequence[Record], images: Decoded, masks: Decoded | None, drop: set[int]) -> Split:
    keep = [i for i in range(len(records)) if i not in drop]
    pick = (lambda a: a) if not drop else (lambda a: a[keep])  # a copy only when something was skipped
    kept = [records[i] for i in keep]
    has_mask = None if masks is None else np.asarray([bool(r.has_mask) for r in kept])
    return Split(pick(images.array), np.asarray([r.label for r in kept], np.int64), tuple(r.sample_id for r in kept),
                 None if masks is None else pick(masks.array), has_mask, tuple(dict(r.meta) for r in kept))


def build_dataset(plugin: str, classes: Sequence[str], splits: Mapping[str, Sequence[Record]], *, root: Path,
                  opts: Mapping[str, Any], hint: str = "") -> Dataset:
    """Decode every split once (cached) and assemble the dataset.

    Args:
        plugin: the dataset name, for messages.
        classes: class names, index = label.
        splits: ``train``, ``val`` and ``test`` records.
        root: the dataset root (cache keys use paths relative to it).
        opts: resolved options (``image_size``, ``resize``, ``workers``, ``on_corrupt``).
        hint: what to do about an empty split, appended to that error.

    Raises:
        HarnessError: an empty split, a duplicate sample, a listed file that does not
            exist, or (with ``on_corrupt = "fail"``) files that cannot be decoded.
    """
    _check_records(plugin, splits, hint)
    decoded = {name: _decode(splits[name], root, opts) for name in SPLITS}
    failed = {name: _failures(splits[name], *decoded[name]) for name in SPLITS}
    problems = [why for name in SPLITS for why in failed[name].values()]
    if problems and opts["on_corrupt"] == "fail":
        raise HarnessError(f"dataset {plugin!r}: {plural(len(problems), 'file')} cannot be decoded "
                           f"(set on_corrupt = \"skip\" to leave them out):\n{listing(problems)}")
    if problems:
        warnings.warn(f"dataset {plugin!r}: skipped {plural(len(problems), 'file')} that cannot be decoded:\n"
                      f"{listing(problems)}", stacklevel=3)
    built = {name: _split(splits[name], *decoded[name], set(failed[name])) for name in SPLITS}
    for name, split in built.items():
        if not len(split):
            raise HarnessError(f"dataset {plugin!r}: every file of the {name} split failed to decode")
    keys = {name: [d.key if d else "" for d in decoded[name]] + sorted(failed[name]) for name in SPLITS}
    fingerprint = hashlib.sha256(json.dumps([plugin, list(classes), keys]).encode()).hexdigest()[:16]
    skipped = tuple((name, *_file_and_reason(splits[name], i, failed[name][i])) for name in SPLITS
                    for i in sorted(failed[name]))
    return Dataset(tuple(classes), built["train"], built["val"], built["test"], fingerprint, skipped=skipped)


def _file_and_reason(records: Sequence[Record], i: int, why: str) -> tuple[str, str]:
    """``(file, reason)`` of a skipped sample, from its ``"<file>: <reason>"`` failure line."""
    for prefix in (f"{records[i].path}: ", f"{records[i].mask} (mask): "):
        if why.startswith(prefix):
            return prefix[:-2], why[len(prefix):]
    return str(records[i].path), why
