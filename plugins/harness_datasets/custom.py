"""``custom-metadata``: label folders of images whose file names carry capture metadata.

::

    root/                      (the data_rgb folder, or a folder holding data_rgb/)
        normal/pattern1 60 100.png
        defect_type1/pattern1 60 200_v2.png
        data_info.csv          (generated)

Every file name must read ``{category} {freq} {dimming}[_{extra}].<ext>``, separated by
single spaces, with numeric ``freq`` and ``dimming``; all names that do not are reported
together. The parsed metadata go into each sample's meta and into ``data_info.csv``
(columns ``path, folder, category, freq, dimming, extra, label, class``), written next to
the folders when missing or out of date, or under the cache directory when the dataset
folder is read-only.

Labels (``label_from``): ``"folder"`` (default) makes a folder named in ``normal_folders``
(``normal``, ``good``) class ``normal`` and every other folder class ``defect``, its name
kept as ``defect_type``; ``"folder-classes"`` makes each folder its own class;
``"category"`` classifies by the file-name category. ``category`` keeps only the files of
one category. Splits are stratified by class and folder (``val_ratio``, ``test_ratio``,
fractions of the whole, and ``seed``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import uuid
from pathlib import Path
from typing import Any

from harness import Dataset, HarnessError, cache_dir
from harness_datasets.build import build_dataset
from harness_datasets.options import COMMON, Problem, check_spec, choice, names, ratio, resolve, text
from harness_datasets.records import Record, class_names, list_images, plural, require_dir, split_records, subdirs

PATTERN = "{category} {freq} {dimming}[_{extra}].png"
NAME = re.compile(r"^(?P<category>\S+) (?P<freq>\d+(?:\.\d+)?) (?P<dimming>\d+(?:\.\d+)?)(?:_(?P<extra>\S+))?$")
INFO = "data_info.csv"
COLUMNS = ("path", "folder", "category", "freq", "dimming", "extra", "label", "class")
SPEC = {**COMMON, "root": (None, text()), "category": (None, text(optional=True)),
        "label_from": ("folder", choice("folder", "folder-classes", "category")),
        "normal_folders": (["normal", "good"], names(optional=False)),
        "val_ratio": (0.2, ratio()), "test_ratio": (0.2, ratio())}


def check(options: dict[str, Any]) -> list[Problem]:
    """Problems with ``custom-metadata`` options, without looking at the files."""
    problems = check_spec("custom-metadata", options, SPEC, required=("root",))
    val, test = options.get("val_ratio", 0.2), options.get("test_ratio", 0.2)
    if not any(k in ("val_ratio", "test_ratio") for k, _ in problems) and val + test >= 1:
        problems.append(("test_ratio", f"val_ratio + test_ratio must be < 1, got {val} + {test}"))
    if options.get("label_from") == "category" and options.get("category"):
        problems.append(("category", "cannot pick one category when label_from = \"category\" classifies by it"))
    return problems


def parse_name(path: Path) -> dict[str, str] | None:
    """``{category, freq, dimming, extra}`` from a file name, or None if it does not follow the pattern."""
    match = NAME.match(path.stem)
    return None if match is None else {k: v or "" for k, v in match.groupdict().items()}


def scan(root: Path) -> list[tuple[Path, str, dict[str, str]]]:
    """``(file, folder, metadata)`` for every image; every bad name raises together."""
    found, bad = [], []
    for folder in subdirs(root):
        for path in list_images(folder):
            meta = parse_name(path)
            if meta is None:
                bad.append(path.relative_to(root).as_posix())
            found.append((path, folder.name, meta or {}))
    if bad:
        raise HarnessError(f"{root}: {plural(len(bad), 'file name')} not of the form {PATTERN!r} (single spaces, "
                           "numeric freq and dimming; e.g. 'pattern1 60 100.png', 'design_A 80 150_v2.png'):\n"
                           + "\n".join(f"  {name}" for name in bad))
    if not found:
        raise HarnessError(f"{root} has no label folders with images in them")
    return found


def _labels(found: list[tuple[Path, str, dict[str, str]]], opts: dict[str, Any], root: Path
            ) -> tuple[list[str], list[int]]:
    if opts["label_from"] == "folder":
        normal = {n.lower() for n in opts["normal_folders"]}
        labels = [0 if folder.lower() in normal else 1 for _, folder, _ in found]
        if len(set(labels)) < 2:
            have = "no normal folder" if 0 not in labels else "no defect folder"
            raise HarnessError(f"{root}: {have} (normal_folders = {opts['normal_folders']}); need both")
        return ["normal", "defect"], labels
    by_folder = opts["label_from"] == "folder-classes"
    raw = [folder if by_folder else meta["category"] for _, folder, meta in found]
    idents = class_names(sorted(set(raw)), str(root))
    classes = sorted(set(idents.values()))
    if len(classes) < 2:
        raise HarnessError(f"{root}: label_from = {opts['label_from']!r} finds a single class {classes}")
    return classes, [classes.index(idents[r]) for r in raw]


def info_text(root: Path, found: list[tuple[Path, str, dict[str, str]]], labels: list[int],
              classes: list[str]) -> str:
    """The ``data_info.csv`` contents for the scanned files."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for (path, folder, meta), label in zip(found, labels):
        writer.writerow([path.relative_to(root).as_posix(), folder, meta["category"], meta["freq"], meta["dimming"],
                         meta["extra"], label, classes[label]])
    return out.getvalue()


def write_info(root: Path, content: str) -> Path:
    """Write ``data_info.csv`` beside the folders, or in the cache when that is read-only."""
    target = root / INFO
    if target.is_file() and target.read_text(encoding="utf-8") == content:
        return target
    fallback = cache_dir() / "custom-metadata" / hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16] / INFO
    for place in (target, fallback):
        tmp = place.with_name(f".{INFO}.{uuid.uuid4().hex}.tmp")
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(content, encoding="utf-8")
            os.replace(tmp, place)
            return place
        except OSError:
            tmp.unlink(missing_ok=True)
    raise HarnessError(f"cannot write {INFO} beside {root} nor in the cache directory {cache_dir()}")


def custom_metadata(image_size: int = 64, **options: Any) -> Dataset:
    """Build a ``custom-metadata`` dataset (see the module docstring)."""
    opts = resolve({"image_size": image_size, **options}, SPEC, check({"image_size": image_size, **options}))
    root = require_dir(Path(opts["root"]).expanduser(), "dataset root")
    root = root / "data_rgb" if (root / "data_rgb").is_dir() else root
    found = scan(root)
    classes, labels = _labels(found, opts, root)
    write_info(root, info_text(root, found, labels, classes))
    if opts["category"]:
        chosen = [i for i, (_, _, m) in enumerate(found) if m["category"] == opts["category"]]
        if not chosen:
            categories = sorted({m["category"] for _, _, m in found})
            raise HarnessError(f"{root}: no files of category {opts['category']!r}; categories: {categories}")
        found, labels = [found[i] for i in chosen], [labels[i] for i in chosen]
    normal = {n.lower() for n in opts["normal_folders"]}
    records = [Record(path, label, path.relative_to(root).as_posix(),
                      meta={**meta, "folder": folder, "defect_type": "good" if folder.lower() in normal else folder})
               for (path, folder, meta), label in zip(found, labels)]
    parts = split_records(records, {"test": opts["test_ratio"], "val": opts["val_ratio"]}, opts["seed"], key="defect")
    return build_dataset("custom-metadata", classes, parts, root=root, opts=opts,
                         hint="add images or raise val_ratio/test_ratio")
