"""``folder``: one sub-folder per class, with or without split folders.

Either ``root/{train,val,test}/<class>/`` (``val`` optional: carved from train by
``val_ratio``; ``valid`` and ``validation`` also name it), or ``root/<class>/`` split by
class into train, val and test with ``val_ratio`` and ``test_ratio`` (fractions of the
whole) and ``seed``. Class names are the folder names lower-cased and made identifiers
(``Bad Weld`` -> ``bad_weld``), sorted, unless ``classes`` lists them (in that order;
unlisted folders are left out). Images may sit in nested folders inside a class folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import Dataset, HarnessError
from harness_datasets.build import build_dataset
from harness_datasets.options import COMMON, Problem, check_spec, names, ratio, resolve, text
from harness_datasets.records import (
    SPLIT_DIRS,
    Record,
    class_names,
    identifier,
    list_images,
    require_dir,
    split_records,
    subdirs,
)

SPEC = {**COMMON, "root": (None, text()), "val_ratio": (0.2, ratio()), "test_ratio": (0.2, ratio()),
        "classes": (None, names())}


def check(options: dict[str, Any]) -> list[Problem]:
    """Problems with ``folder`` options, without looking at the files."""
    problems = check_spec("folder", options, SPEC, required=("root",))
    val, test = options.get("val_ratio", 0.2), options.get("test_ratio", 0.2)
    if not any(k in ("val_ratio", "test_ratio") for k, _ in problems) and val + test >= 1:
        problems.append(("test_ratio", f"val_ratio + test_ratio must be < 1, got {val} + {test}"))
    return problems


def _class_folders(split_dir: Path) -> dict[str, Path]:
    return {p.name: p for p in subdirs(split_dir)}


def choose_classes(found: list[str], wanted: list[str] | None, where: Path) -> tuple[list[str], dict[str, int]]:
    """Class names and raw folder name to label: found classes sorted, or the ``classes`` option's order."""
    idents = class_names(sorted(found), str(where))
    order = sorted(set(idents.values())) if wanted is None else [identifier(n) for n in wanted]
    missing = [n for n in order if n not in idents.values()]
    if missing:
        raise HarnessError(f"{where}: classes {missing} have no folder; found {sorted(idents.values())}")
    if len(order) < 2:
        raise HarnessError(f"{where}: found {len(order)} class folder(s) {order}; a classifier needs at least two")
    index = {name: i for i, name in enumerate(order)}
    return order, {raw: index[ident] for raw, ident in idents.items() if ident in index}


def _records(root: Path, folders: dict[str, Path], labels: dict[str, int]) -> list[Record]:
    out = []
    for raw, folder in folders.items():
        if raw in labels:
            out += [Record(p, labels[raw], p.relative_to(root).as_posix()) for p in list_images(folder)]
    return out


def _layout(root: Path) -> dict[str, Path] | None:
    """Split folders when ``root`` holds them, None for a flat class layout."""
    children = subdirs(root)
    splits = {SPLIT_DIRS[p.name.lower()]: p for p in children if p.name.lower() in SPLIT_DIRS}
    if not splits:
        return None
    others = [p.name for p in children if p.name.lower() not in SPLIT_DIRS]
    found = sorted(p.name for p in splits.values())
    if others:
        raise HarnessError(f"{root} mixes layouts: split folders {found} beside class folders {others}; "
                           "use root/<split>/<class>/ or root/<class>/")
    if "train" not in splits or "test" not in splits:
        raise HarnessError(f"{root} has split folders {found}; train and test are required (val is optional)")
    return splits


def folder(image_size: int = 64, **options: Any) -> Dataset:
    """Build a ``folder`` dataset (see the module docstring)."""
    opts = resolve({"image_size": image_size, **options}, SPEC, check({"image_size": image_size, **options}))
    root = require_dir(Path(opts["root"]).expanduser(), "dataset root")
    splits_dirs = _layout(root)
    if splits_dirs is None:
        folders = _class_folders(root)
        classes, labels = choose_classes(list(folders), opts["classes"], root)
        records = _records(root, folders, labels)
        splits = split_records(records, {"test": opts["test_ratio"], "val": opts["val_ratio"]}, opts["seed"],
                               every_class=True)
    else:
        per_split = {name: _class_folders(path) for name, path in splits_dirs.items()}
        classes, labels = choose_classes(sorted({c for f in per_split.values() for c in f}), opts["classes"], root)
        splits = {name: _records(root, f, labels) for name, f in per_split.items()}
        if "val" not in splits:
            splits.update(split_records(splits["train"], {"val": opts["val_ratio"]}, opts["seed"], every_class=True))
    empty = [name for k, name in enumerate(classes) if not any(r.label == k for s in splits.values() for r in s)]
    if empty:
        raise HarnessError(f"{root}: class folders {empty} hold no images")
    return build_dataset("folder", classes, splits, root=root, opts=opts,
                         hint="add images or raise val_ratio/test_ratio")
