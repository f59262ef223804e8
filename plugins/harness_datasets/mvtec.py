"""``mvtec`` and ``btad``: the folder layouts of MVTec AD and BTAD.

MVTec AD (``category`` e.g. ``bottle``)::

    root/<category>/train/good/
    root/<category>/test/good/   root/<category>/test/<defect_type>/
    root/<category>/ground_truth/<defect_type>/<image stem>_mask.png

BTAD (``category`` ``01``, ``02`` or ``03``)::

    root/<category>/train/ok/
    root/<category>/test/ok/     root/<category>/test/ko/
    root/<category>/ground_truth/ko/<image stem>.png

``root`` may also be the category folder itself. Splits: see :mod:`harness_datasets.anomaly`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Dataset
from harness_datasets.anomaly import carve, category_dir, check_masks, options_of
from harness_datasets.records import Record, find_mask, list_images, mask_index, require_dir, subdirs


@dataclass(frozen=True)
class Layout:
    """Folder names of one benchmark."""

    plugin: str
    good: str  # the normal folder under train/ and test/


MVTEC = Layout("mvtec", "good")
BTAD = Layout("btad", "ok")


def _records(layout: Layout, cat: Path, base: Path) -> tuple[list[Record], list[Record]]:
    category = cat.name

    def normal(path: Path) -> Record:
        return Record(path, 0, path.relative_to(base).as_posix(), None, True,
                      {"category": category, "defect_type": "good"})

    train = [normal(p) for p in list_images(require_dir(cat / "train" / layout.good, "normal training folder"))]
    test_dir = require_dir(cat / "test", "test folder")
    truth = require_dir(cat / "ground_truth", "mask folder", f"{layout.plugin} keeps defect masks in ground_truth/<type>/")
    test = []
    for folder in subdirs(test_dir):
        if folder.name == layout.good:
            test += [normal(p) for p in list_images(folder)]
            continue
        masks = mask_index(truth / folder.name) if (truth / folder.name).is_dir() else {}
        for path in list_images(folder):
            mask = find_mask(masks, path.relative_to(folder).as_posix())
            test.append(Record(path, 1, path.relative_to(base).as_posix(), mask, mask is not None,
                               {"category": category, "defect_type": folder.name}))
    return train, test


def _build(layout: Layout, image_size: int, options: dict[str, Any]) -> Dataset:
    opts = options_of(layout.plugin, image_size, options)
    root = Path(opts["root"]).expanduser()
    cat = category_dir(root, opts["category"], "train", layout.plugin)
    base = cat.parent  # sample ids start with the category name
    train, test = _records(layout, cat, base)
    check_masks(test, opts, cat / "ground_truth")
    return carve(layout.plugin, train, test, opts, base)


def mvtec(image_size: int = 64, **options: Any) -> Dataset:
    """Build one MVTec AD category (see the module docstring)."""
    return _build(MVTEC, image_size, options)


def btad(image_size: int = 64, **options: Any) -> Dataset:
    """Build one BTAD category (see the module docstring)."""
    return _build(BTAD, image_size, options)
