"""``visa``: the VisA layout, driven by its split file.

::

    root/split_csv/1cls.csv              (or root/<category>/split_csv/1cls.csv)
    root/<category>/Data/Images/Normal/  root/<category>/Data/Images/Anomaly/
    root/<category>/Data/Masks/Anomaly/

``1cls.csv`` has the columns ``object, split, label, image, mask``: ``split`` is
``train`` or ``test``, ``label`` ``normal`` or ``anomaly``, and ``image`` and ``mask`` are
paths relative to the folder that holds ``split_csv/``. ``category`` picks the object
(it may be left out when the file lists only one). Splits: see
:mod:`harness_datasets.anomaly`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import Dataset, HarnessError
from harness_datasets.anomaly import carve, check_masks, options_of
from harness_datasets.records import Record, listing, plural
from harness_datasets.table import read_table

COLUMNS = ["object", "split", "label", "image", "mask"]


def split_file(root: Path, category: str | None) -> Path:
    """The ``1cls.csv`` to read; a HarnessError naming the places looked at if none exists."""
    places = [root / "split_csv" / "1cls.csv"]
    if category:
        places.append(root / category / "split_csv" / "1cls.csv")
    for place in places:
        if place.is_file():
            return place
    raise HarnessError(f"VisA split file not found; looked for {' and '.join(map(str, places))}")


def _rows(path: Path, category: str | None) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    _, rows = read_table(path, COLUMNS)
    objects = sorted({r["object"] for r in rows})
    if category is None and len(objects) != 1:
        raise HarnessError(f"{path} lists objects {objects}; choose one with category = \"...\"")
    category = category or objects[0]
    chosen = [(line, r) for line, r in enumerate(rows, start=2) if r["object"] == category]
    if not chosen:
        raise HarnessError(f"{path} has no rows for object {category!r}; objects: {objects}")
    bad = [f"line {line}: split {r['split']!r}, label {r['label']!r}" for line, r in chosen
           if r["split"].strip().lower() not in ("train", "test") or r["label"].strip().lower() not in ("normal", "anomaly")]
    if bad:
        raise HarnessError(f"{path}: {plural(len(bad), 'row')} without split train|test and label "
                           f"normal|anomaly:\n{listing(bad)}")
    return category, chosen


def visa(image_size: int = 64, **options: Any) -> Dataset:
    """Build one VisA object (see the module docstring)."""
    opts = options_of("visa", image_size, options)
    root = Path(opts["root"]).expanduser()
    if not root.is_dir():
        raise HarnessError(f"dataset root {root} does not exist")
    path = split_file(root, opts["category"])
    base = path.parent.parent
    category, rows = _rows(path, opts["category"])
    splits: dict[str, list[Record]] = {"train": [], "test": []}
    for _, row in rows:
        defect = row["label"].strip().lower() == "anomaly"
        mask = (row["mask"] or "").strip()
        image = row["image"].strip()
        meta = {"category": category, "defect_type": "anomaly" if defect else "good"}
        splits[row["split"].strip().lower()].append(
            Record(base / image, int(defect), Path(image).as_posix(), base / mask if mask else None,
                   bool(mask) or not defect, meta))
    check_masks(splits["test"] + splits["train"], opts, path)
    return carve("visa", splits["train"], splits["test"], opts, base)
