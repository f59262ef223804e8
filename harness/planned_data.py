"""The datasets of a plan: fingerprints without building, datasets built on first use.

A cell's id depends on its dataset's fingerprint, so planning needs every fingerprint;
training needs the dataset itself only for the cells that run. A dataset plugin that
registers ``fingerprint=`` (see :meth:`harness.Registry.register`) gives the fingerprint
from its options alone. The image size the cell keys also need comes from a small record
in the cache, ``$HARNESS_CACHE_DIR/datasets/<fingerprint>.json``, written the first time
the dataset is built. So a rerun of a finished matrix builds no dataset; a plugin without
``fingerprint=`` is built as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cache import cache_dir
from harness.data import Dataset
from harness.errors import HarnessError
from harness.store import atomic_write_json

Builder = Callable[[dict[str, Any]], Dataset]


@dataclass(frozen=True)
class DatasetFacts:
    """What planning needs of a dataset.

    Attributes:
        fingerprint: the dataset's fingerprint ("unavailable" when it failed to build).
        size: ``(H, W)`` of its images, or None when unknown.
        built: the dataset or the error building it, when planning had to build it.
    """

    fingerprint: str
    size: tuple[int, int] | None
    built: Dataset | HarnessError | None = None


def record_path(fingerprint: str) -> Path:
    """The cache record of the dataset with this fingerprint."""
    return cache_dir() / "datasets" / f"{fingerprint}.json"


def _read_size(fingerprint: str) -> tuple[int, int] | None:
    try:
        size = json.loads(record_path(fingerprint).read_text())["size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ok = isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
    return (size[0], size[1]) if ok else None


def _size_of(data: Dataset) -> tuple[int, int]:
    return tuple(int(v) for v in data.train.images.shape[1:3])  # type: ignore[return-value]


def dataset_facts(config: dict[str, Any], build: Builder, cheap: Callable[[dict[str, Any]], str] | None) -> DatasetFacts:
    """The fingerprint and image size of the dataset ``config`` describes, building it only if needed.

    Args:
        config: the ``[dataset]`` table (``plugin`` plus its options).
        build: builds the dataset from ``config`` (raises HarnessError on bad data).
        cheap: the plugin's ``fingerprint(options)``, or None.
    """
    if cheap is not None:
        try:
            fingerprint = cheap({k: v for k, v in config.items() if k != "plugin"})
        except HarnessError:
            fingerprint = None  # let the build report the problem
        size = _read_size(fingerprint) if fingerprint else None
        if size is not None:
            return DatasetFacts(fingerprint, size)
    try:
        data = build(config)
    except HarnessError as exc:
        return DatasetFacts("unavailable", None, exc)
    size = _size_of(data)
    try:
        atomic_write_json(record_path(data.fingerprint), {"size": list(size), "plugin": config.get("plugin")})
    except OSError:
        pass  # a read-only cache only costs the next rerun a build
    return DatasetFacts(data.fingerprint, size, data)


class LazyDatasets(dict):
    """Dataset key to its dataset (or the error building it), built on first access.

    Args:
        configs: dataset key to the ``[dataset]`` table it stands for.
        build: builds a dataset from its table.
    """

    def __init__(self, configs: dict[str, dict[str, Any]] | None = None, build: Builder | None = None):
        super().__init__()
        self.configs = configs if configs is not None else {}
        self.build = build

    def __missing__(self, key: str) -> Dataset | HarnessError:
        if key not in self.configs or self.build is None:
            raise KeyError(key)
        try:
            value: Dataset | HarnessError = self.build(self.configs[key])
        except HarnessError as exc:
            value = exc
        self[key] = value
        return value
