"""``csv``: image paths and labels listed in CSV files.

Either one CSV with a split column (``csv``, ``split_column``; values ``train``, ``val``
(or ``valid``, ``validation``) and ``test``, any case), or one CSV per split
(``train_csv``, optional ``val_csv``, ``test_csv``). Image paths are relative to ``root``
(default: the folder of the first CSV) unless absolute. Without validation rows, val is
carved from train, stratified by class (``val_ratio``). ``random_sampling_ratio`` keeps a
seeded, class-stratified fraction of every split (as the CATS system's subset option).

Labels: integers are class indices, named by ``classes`` (``["normal", "defect"]`` for a
0/1 ``Defect`` column) or ``class_<value>`` without it; any other labels are class names,
lower-cased identifiers, sorted unless ``classes`` gives the order. ``mask_column`` names
an optional column of mask files (0 background, non-zero defect); an empty cell on a
``normal`` sample is an all-zero mask, on any other sample "no mask".
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from harness import Dataset, HarnessError
from harness_datasets.build import build_dataset
from harness_datasets.options import COMMON, Problem, check_spec, names, ratio, resolve, text
from harness_datasets.records import SPLIT_DIRS, Record, identifier, listing, plural, split_records, subsample

SPEC = {**COMMON, "root": (None, text(optional=True)), "csv": (None, text(optional=True)),
        "train_csv": (None, text(optional=True)), "val_csv": (None, text(optional=True)),
        "test_csv": (None, text(optional=True)), "image_column": ("image", text()), "label_column": ("label", text()),
        "split_column": ("split", text()), "mask_column": (None, text(optional=True)), "classes": (None, names()),
        "random_sampling_ratio": (1.0, ratio(low_open=True, high_closed=True)), "val_ratio": (0.2, ratio())}

Row = tuple[str, dict[str, str], int]  # split, cells, line number


def check(options: dict[str, Any]) -> list[Problem]:
    """Problems with ``csv`` options, without reading the CSVs."""
    problems = check_spec("csv", options, SPEC)
    one, per_split = options.get("csv"), [options.get(k) for k in ("train_csv", "val_csv", "test_csv")]
    if one and any(per_split):
        problems.append(("csv", "give either csv (with a split column) or train_csv/val_csv/test_csv, not both"))
    elif not one and not (per_split[0] and per_split[2]):
        problems.append(("csv", "give csv (one file with a split column) or both train_csv and test_csv"))
    return problems


def read_table(path: Path, required: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV; a missing file or column raises a HarnessError naming it."""
    if not path.is_file():
        raise HarnessError(f"CSV file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h for h in (reader.fieldnames or []) if h is not None]
        rows = list(reader)
    for column in required:
        if column not in header:
            raise HarnessError(f"{path}: no column {column!r}; columns present: {', '.join(map(repr, header)) or 'none'}")
    return header, rows


def _rows(opts: dict[str, Any]) -> tuple[list[Row], Path]:
    base = [opts["image_column"], opts["label_column"]] + ([opts["mask_column"]] if opts["mask_column"] else [])
    if opts["csv"]:
        path = Path(opts["csv"]).expanduser()
        _, rows = read_table(path, [*base, opts["split_column"]])
        out, bad = [], []
        for line, row in enumerate(rows, start=2):
            split = SPLIT_DIRS.get(str(row[opts["split_column"]]).strip().lower())
            if split is None:
                bad.append(f"line {line}: {row[opts['split_column']]!r}")
            out.append((split or "", row, line))
        if bad:
            raise HarnessError(f"{path}: {plural(len(bad), 'row')} with a split that is not train, val or test:\n"
                               + listing(bad))
        return out, path.parent
    out = []
    for split in ("train", "val", "test"):
        if opts[f"{split}_csv"]:
            path = Path(opts[f"{split}_csv"]).expanduser()
            out += [(split, row, line) for line, row in enumerate(read_table(path, base)[1], start=2)]
    return out, Path(opts["train_csv"]).expanduser().parent


def _integer(value: str) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def label_map(raw: list[str], classes: list[str] | None) -> tuple[list[str], dict[str, int]]:
    """Class names, and raw label value to class index (see the module docstring)."""
    values = sorted(set(raw))
    ints = {v: _integer(v) for v in values}
    if all(i is not None for i in ints.values()):
        if classes is None:
            order = sorted(set(ints.values()))
            return [f"class_{i}" for i in order], {v: order.index(i) for v, i in ints.items()}
        outside = sorted({i for i in ints.values() if not 0 <= i < len(classes)})
        if outside:
            raise HarnessError(f"label values {outside} are not indices into classes {classes}")
        return [identifier(c) for c in classes], dict(ints)
    names_of = {v: identifier(v) for v in values}
    order = sorted(set(names_of.values())) if classes is None else [identifier(c) for c in classes]
    unknown = sorted(v for v, n in names_of.items() if n not in order)
    if unknown:
        raise HarnessError(f"labels {unknown} are not among classes {order}")
    return order, {v: order.index(n) for v, n in names_of.items()}


def _records(rows: list[Row], root: Path, opts: dict[str, Any]) -> tuple[list[str], dict[str, list[Record]]]:
    for column in (opts["label_column"], opts["image_column"]):
        empty = [f"line {line}" for _, row, line in rows if not (row.get(column) or "").strip()]
        if empty:
            raise HarnessError(f"{plural(len(empty), 'row')} with an empty {column!r}:\n{listing(empty)}")
    classes, index = label_map([row[opts["label_column"]].strip() for _, row, _ in rows], opts["classes"])
    normal = classes.index("normal") if "normal" in classes else None
    splits: dict[str, list[Record]] = {"train": [], "val": [], "test": []}
    own = {opts["image_column"], opts["label_column"], opts["mask_column"]}
    for split, row, _ in rows:
        label = index[row[opts["label_column"]].strip()]
        image = row[opts["image_column"]].strip()
        mask = (row.get(opts["mask_column"]) or "").strip() if opts["mask_column"] else ""
        has_mask = None if not opts["mask_column"] else bool(mask) or label == normal
        meta = {k: v for k, v in row.items() if isinstance(k, str) and k not in own}
        splits[split].append(Record(root / image, label, Path(image).as_posix(), root / mask if mask else None,
                                    has_mask, meta))
    return classes, splits


def table(image_size: int = 64, **options: Any) -> Dataset:
    """Build a ``csv`` dataset (see the module docstring)."""
    opts = resolve({"image_size": image_size, **options}, SPEC, check({"image_size": image_size, **options}))
    rows, default_root = _rows(opts)
    root = Path(opts["root"]).expanduser() if opts["root"] else default_root
    if not root.is_dir():
        raise HarnessError(f"image root {root} does not exist")
    classes, splits = _records(rows, root, opts)
    ratio_ = opts["random_sampling_ratio"]
    splits = {name: subsample(recs, ratio_, [opts["seed"], k]) for k, (name, recs) in enumerate(splits.items())}
    if not splits["val"]:
        splits.update(split_records(splits["train"], {"val": opts["val_ratio"]}, opts["seed"], every_class=True))
    return build_dataset("csv", classes, splits, root=root, opts=opts, hint="add rows or raise val_ratio")
