"""What the anomaly benchmarks (``mvtec``, ``visa``, ``btad``) share: options and the carve.

These benchmarks train on normal images only: every defect sits in the test set. A
classifier needs defects to learn from, so by default the plugins move a seeded
fraction of the test defects into training (``train_defects_from_test``, 0.5, drawn per
defect type), then carve validation from the enlarged training set (``val_ratio``, 0.2,
stratified by class and defect type). The test set keeps its normal images and the other
defects, and no image is in two splits. ``train_defects_from_test = 0`` keeps the
benchmark's own training split: normal images only. One-class models need defects in
validation to choose their threshold, so ``val_from = "test"`` carves validation
(``val_ratio``, stratified by class and defect type) from the benchmark's test set
instead of from training: the protocol for one-class rows (``train_defects_from_test =
0, val_from = "test"``).

Classes are ``("normal", "defect")``; each sample's meta keeps ``category`` and
``defect_type`` (``good`` for normal images), so per-type results stay possible. Normal
images carry an all-zero mask that counts as real; a defect without a mask file gets
``has_mask`` False, or an error with ``require_masks = true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import Dataset, HarnessError
from harness_datasets.build import build_dataset
from harness_datasets.options import COMMON, Problem, check_spec, choice, flag, ratio, resolve, text
from harness_datasets.records import Record, listing, partition, plural, split_records, subdirs

CLASSES = ("normal", "defect")
SPEC = {**COMMON, "root": (None, text()), "category": (None, text(optional=True)),
        "train_defects_from_test": (0.5, ratio()), "val_ratio": (0.2, ratio()), "require_masks": (False, flag),
        "val_from": ("train", choice("train", "test"))}


def make_check(plugin: str):  # noqa: ANN201 - returns the registry's check callable
    """The option check of one benchmark plugin."""

    def check(options: dict[str, Any]) -> list[Problem]:
        """Problems with the options, without looking at the files."""
        return check_spec(plugin, options, SPEC, required=("root",))

    return check


def options_of(plugin: str, image_size: int, options: dict[str, Any]) -> dict[str, Any]:
    """Resolved options; raises a HarnessError listing every problem."""
    given = {"image_size": image_size, **options}
    return resolve(given, SPEC, make_check(plugin)(given))


def category_dir(root: Path, category: str | None, marker: str, plugin: str) -> Path:
    """The category folder: ``root/category``, or ``root`` itself when it holds ``marker``.

    Raises:
        HarnessError: no category given and ``root`` is a collection of categories, or
            the category does not exist; the message lists the categories found.
    """
    if not root.is_dir():
        raise HarnessError(f"dataset root {root} does not exist")
    found = [p.name for p in subdirs(root) if (p / marker).exists()]
    if category is None:
        if (root / marker).exists():
            return root
        raise HarnessError(f"{root} holds {plugin} categories {found or 'none'}; choose one with category = \"...\"")
    if not (root / category).is_dir():
        raise HarnessError(f"category folder {root / category} does not exist; categories found: {found or 'none'}")
    return root / category


def check_masks(records: list[Record], opts: dict[str, Any], where: Path) -> None:
    """With ``require_masks``, every defect must have its mask file."""
    missing = [r.path for r in records if r.label == 1 and r.mask is None]
    if missing and opts["require_masks"]:
        raise HarnessError(f"{plural(len(missing), 'defect image')} without a mask under {where} "
                           f"(require_masks = true):\n{listing(missing)}")


def carve(plugin: str, train: list[Record], test: list[Record], opts: dict[str, Any], root: Path) -> Dataset:
    """Move test defects into training and carve validation (see the module docstring)."""
    defects = [r for r in test if r.label == 1]
    strata = [str(r.meta.get("defect_type", "")) for r in defects]
    moved = partition(strata, {"train": opts["train_defects_from_test"]}, [opts["seed"], 1], rest="test")
    train = train + [defects[i] for i in moved["train"]]
    test = [r for r in test if r.label == 0] + [defects[i] for i in moved["test"]]
    if opts["val_from"] == "test":  # the benchmark's protocol: normal-only training, thresholds fitted on held-out test images
        held = split_records(test, {"val": opts["val_ratio"]}, opts["seed"], key="defect")
        splits = {"train": train, "val": held["val"], "test": held["train"]}
    else:
        splits = {**split_records(train, {"val": opts["val_ratio"]}, opts["seed"], key="defect"), "test": test}
    return build_dataset(plugin, CLASSES, splits, root=root, opts=opts,
                         hint="add images or raise val_ratio / train_defects_from_test")
