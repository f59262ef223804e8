"""Inputs of a prediction: files, folders, CSV lists, arrays and PIL images, decoded as the cache does.

A file is decoded by :func:`harness.cache.decode_image`, the very function that filled
the dataset cache the row was trained and tested on, at the row's ``image_size`` with its
``resize`` filter; an array or PIL image goes through the same conversion and resize.
A file that is missing or cannot be decoded becomes an error string, never an exception.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"})
PATH_COLUMNS = ("path", "image", "file", "filename", "filepath", "image_path")


@dataclass(frozen=True)
class Item:
    """One input: a file path, or an in-memory image with a display name."""

    name: str
    path: Path | None = None
    image: Any = None  # numpy array or PIL image


def as_items(inputs: Any) -> list[Item]:
    """Normalise what :meth:`Predictor.predict` accepts into items, in order.

    Accepts a path, an array or a PIL image, an :class:`Item`, or a sequence of them (a
    ``[N, H, W, C]`` array counts as N images).
    """
    if isinstance(inputs, str | os.PathLike) or _is_image(inputs):
        inputs = [inputs]
    elif isinstance(inputs, np.ndarray) and inputs.ndim == 4:
        inputs = list(inputs)
    items = []
    for i, value in enumerate(inputs):
        if isinstance(value, Item):
            items.append(value)
        elif isinstance(value, str | os.PathLike):
            items.append(Item(str(value), Path(value)))
        elif _is_image(value):
            items.append(Item(f"<image {i}>", image=value))
        else:
            raise HarnessError(f"input {i}: expected a path, a numpy image or a PIL image, got {type(value).__name__}")
    return items


def _is_image(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim in (2, 3)
    return type(value).__module__.startswith("PIL.")


def _array_to_pil(array: np.ndarray):  # noqa: ANN202 - PIL stays lazy
    from PIL import Image

    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)  # [C, H, W] to [H, W, C]
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and float(np.nanmax(array)) <= 1.0:
            array = array * 255.0  # floats in [0, 1]
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(f"an image array must be [H, W], [H, W, 3] or [3, H, W], got shape {array.shape}")
    return Image.fromarray(array)


def decode_item(item: Item, image_size: int, resize: str) -> np.ndarray:
    """``[S, S, 3]`` uint8, exactly as the dataset cache decodes (raises on a bad input)."""
    from harness.cache import _resample, _to_rgb, decode_image

    if item.path is not None:
        return decode_image(item.path, image_size, resize)
    image = item.image if not isinstance(item.image, np.ndarray) else _array_to_pil(item.image)
    image = _to_rgb(image)
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), _resample(resize))
    return np.asarray(image, dtype=np.uint8)


def why_unreadable(item: Item, exc: BaseException) -> str:
    """A one-line reason an input could not be used."""
    if item.path is not None and not item.path.exists():
        return f"no such file: {item.path}"
    if item.path is not None and item.path.is_dir():
        return f"is a folder: {item.path}"
    name = type(exc).__name__
    if name == "UnidentifiedImageError":
        return f"not an image Pillow can read: {item.path}"
    return f"cannot decode {item.name}: {name}: {exc}"


def expand_inputs(inputs: Sequence[str | Path], path_column: str | None = None) -> list[Path]:
    """Command-line inputs as files: folders listed recursively (image suffixes only),
    CSV files read for their path column, anything else kept as given (so a missing
    file becomes an error row rather than vanishing)."""
    out: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            out += _folder_images(path)
        elif path.suffix.lower() == ".csv" and path.is_file():
            out += _csv_paths(path, path_column)
        else:
            out.append(path)
    return out


def _folder_images(folder: Path) -> list[Path]:
    files = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _csv_paths(path: Path, column: str | None) -> list[Path]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        chosen = column if column is not None else _path_column(fields)
        if chosen not in fields:
            raise HarnessError(f"{path}: no column {chosen!r} (columns: {', '.join(fields) or '(none)'}); "
                               "name it with --path-column")
        rows: Iterable[dict[str, str]] = reader
        return [_relative_to(path.parent, r[chosen]) for r in rows if (r.get(chosen) or "").strip()]


def _path_column(fields: list[str]) -> str:
    lowered = {f.lower(): f for f in fields}
    for name in PATH_COLUMNS:
        if name in lowered:
            return lowered[name]
    raise HarnessError(f"no path column among {', '.join(fields) or '(none)'}; expected one of "
                       f"{', '.join(PATH_COLUMNS)}, or name it with --path-column")


def _relative_to(folder: Path, value: str) -> Path:
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else folder / path
