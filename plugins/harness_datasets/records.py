"""Samples before decoding: file listing, class names and seeded stratified splits."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import HarnessError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"})
SPLIT_DIRS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
LISTED = 10  # how many paths an error message names before giving the total


@dataclass(frozen=True)
class Record:
    """One sample, not yet decoded.

    Attributes:
        path: the image file.
        label: class index.
        sample_id: unique within its split, stable across runs (a relative path).
        mask: the mask file, if there is one.
        has_mask: True when the sample carries a real mask (a file, or the all-zero
            mask of a normal sample); False when it should have one but does not;
            None when the layout has no masks at all.
        meta: per-sample metadata (defect type, category...).
    """

    path: Path
    label: int
    sample_id: str
    mask: Path | None = None
    has_mask: bool | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


def identifier(name: str) -> str:
    """A folder or label value as a lower-case identifier: ``"Bad Weld-2"`` -> ``"bad_weld_2"``."""
    out = re.sub(r"\W+", "_", str(name).strip().lower()).strip("_")
    if not out or not out.isidentifier():
        out = f"class_{out}"
    return out


def class_names(raw: Sequence[str], where: str) -> dict[str, str]:
    """Map raw names to identifiers; two raw names that collapse to one are an error."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in raw:
        ident = identifier(name)
        if ident in seen and seen[ident] != name:
            raise HarnessError(f"{where}: {seen[ident]!r} and {name!r} both become class name {ident!r}; rename one")
        seen[ident] = name
        out[name] = ident
    return out


def list_images(folder: Path, *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (hidden files skipped), sorted by relative path."""
    pattern = folder.rglob("*") if recursive else folder.iterdir()
    files = [p for p in pattern if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders, sorted by name."""
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def mask_index(folder: Path) -> dict[str, Path]:
    """Mask files under ``folder`` by relative path, and by relative path without extension."""
    index: dict[str, Path] = {}
    for path in list_images(folder):
        rel = path.relative_to(folder)
        index[rel.as_posix()] = path
        index.setdefault(rel.with_suffix("").as_posix(), path)
    return index


def find_mask(index: Mapping[str, Path], name: str) -> Path | None:
    """The mask of the image at relative path ``name``: same name, same stem, or stem + ``_mask``."""
    stem = Path(name).with_suffix("").as_posix()
    return index.get(name) or index.get(stem) or index.get(f"{stem}_mask")


def require_dir(path: Path, what: str, hint: str = "") -> Path:
    """``path`` if it is a folder, else a HarnessError naming it."""
    if not path.is_dir():
        state = "is not a folder" if path.exists() else "does not exist"
        raise HarnessError(f"{what} {path} {state}{'; ' + hint if hint else ''}")
    return path


def plural(n: int, noun: str) -> str:
    """``"1 file"``, ``"3 files"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def listing(paths: Sequence[Any], total: int | None = None) -> str:
    """The first :data:`LISTED` items, one per line, and the total when there are more."""
    total = len(paths) if total is None else total
    lines = [f"  {p}" for p in list(paths)[:LISTED]]
    if total > LISTED:
        lines.append(f"  ... and {total - LISTED} more ({total} in total)")
    return "\n".join(lines)


def partition(strata: Sequence[Hashable], fractions: Mapping[str, float], seed: int | Sequence[int],
              rest: str = "train") -> dict[str, list[int]]:
    """Seeded stratified split of sample indices.

    Each stratum is shuffled on its own and cut into ``round(n * fraction)`` samples per
    named part; what is left goes to ``rest``. A part with a positive fraction gets at
    least one sample from every stratum that has two or more, and ``rest`` keeps at
    least one.

    Args:
        strata: one key per sample (a label, or a ``(label, defect type)`` pair).
        fractions: part name to fraction of each stratum.
        seed: the shuffle seed (or seed sequence); the same inputs give the same parts.
        rest: the name of the part that takes the remainder.

    Returns:
        Part name to sorted sample indices (``rest`` included).
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {name: [] for name in (*fractions, rest)}
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(strata):
        groups.setdefault(key, []).append(i)
    for key in sorted(groups, key=repr):
        members = np.asarray(groups[key])[rng.permutation(len(groups[key]))]
        start = 0
        for name, fraction in fractions.items():
            take = int(np.floor(len(members) * fraction + 0.5))
            if fraction > 0 and len(members) >= 2:
                take = max(take, 1)
            take = min(take, len(members) - start - 1) if len(members) >= 2 else 0
            parts[name].extend(members[start:start + max(take, 0)].tolist())
            start += max(take, 0)
        parts[rest].extend(members[start:].tolist())
    return {name: sorted(idx) for name, idx in parts.items()}


def subsample(records: list[Record], fraction: float, seed: int | Sequence[int]) -> list[Record]:
    """A seeded, class-stratified ``fraction`` of ``records`` (every class keeps one)."""
    if fraction >= 1:
        return records
    counts = Counter(r.label for r in records)
    parts = partition([r.label for r in records], {"keep": fraction}, seed, rest="drop")
    keep = set(parts["keep"]) | {i for i in parts["drop"] if counts[records[i].label] == 1}  # singletons stay
    return [r for i, r in enumerate(records) if i in keep]


def split_records(records: list[Record], fractions: Mapping[str, float], seed: int | Sequence[int],
                  key: str = "label", every_class: bool = False) -> dict[str, list[Record]]:
    """:func:`partition` over records, stratified by label (``key="defect"`` adds the defect type).

    Args:
        every_class: each class must reach every part (else a clear error), as when
            validation and test sets are cut from class folders.
    """
    strata = [(r.label, str(r.meta.get("defect_type", ""))) if key == "defect" else r.label for r in records]
    if every_class:
        _check_class_sizes(records, fractions)
    parts = partition(strata, fractions, seed)
    return {name: [records[i] for i in idx] for name, idx in parts.items()}


def _check_class_sizes(records: list[Record], fractions: Mapping[str, float]) -> None:
    """Every class must reach every split it is cut into: a class of one image would
    silently have no validation or test sample (and no metric)."""
    parts = ["train", *(name for name, fraction in fractions.items() if fraction > 0)]
    counts = Counter(r.label for r in records)
    small = {label: n for label, n in counts.items() if n < len(parts)}
    if small:
        example = {r.label: r.path for r in reversed(records)}
        names = "; ".join(f"class {label} has {n} ({example[label]})" for label, n in sorted(small.items()))
        raise HarnessError(f"too few images to split every class into {', '.join(parts)} (each class needs at "
                           f"least {len(parts)}): {names}; add images or merge the class into another")
