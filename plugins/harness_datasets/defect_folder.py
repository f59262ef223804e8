"""``defect-folder``: normal and defective images with pixel masks for the defects.

Layout (masks carry the file name of their image; 0 is background, any non-zero value a
defect, usually 255)::

    root/images/train/normal/      root/images/test/normal/
    root/images/train/defective/   root/images/test/defective/
    root/masks/defective/

The validation split is carved from train, stratified by class (``val_ratio``, 0.2, with
``seed``). Classes are ``("normal", "defect")``. A normal sample carries an all-zero mask
that counts as real (``has_mask`` True); a defective image without a mask file gets
``has_mask`` False, or an error with ``require_masks = true``. A mask may use another
image extension than its image (``a.jpg`` pairs with ``a.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import Dataset, HarnessError
from harness_datasets.build import build_dataset
from harness_datasets.options import COMMON, Problem, check_spec, flag, ratio, resolve, text
from harness_datasets.records import (
    Record,
    find_mask,
    list_images,
    listing,
    mask_index,
    plural,
    require_dir,
    split_records,
)

SPEC = {**COMMON, "root": (None, text()), "val_ratio": (0.2, ratio()), "require_masks": (False, flag)}
CLASSES = ("normal", "defect")


def check(options: dict[str, Any]) -> list[Problem]:
    """Problems with ``defect-folder`` options, without looking at the files."""
    return check_spec("defect-folder", options, SPEC, required=("root",))


def _split_records(root: Path, split: str, masks: dict[str, Path]) -> tuple[list[Record], list[Path]]:
    out, unmatched = [], []
    for label, folder_name in enumerate(("normal", "defective")):
        folder = require_dir(root / "images" / split / folder_name, f"{split} {folder_name} image folder")
        for path in list_images(folder):
            rel = path.relative_to(folder).as_posix()
            sid = path.relative_to(root / "images").as_posix()
            if label == 0:
                out.append(Record(path, 0, sid, None, True, {"defect_type": "none"}))
                continue
            mask = find_mask(masks, rel)
            if mask is None:
                unmatched.append(path)
            out.append(Record(path, 1, sid, mask, mask is not None, {"defect_type": "defective"}))
    return out, unmatched


def defect_folder(image_size: int = 64, **options: Any) -> Dataset:
    """Build a ``defect-folder`` dataset (see the module docstring)."""
    opts = resolve({"image_size": image_size, **options}, SPEC, check({"image_size": image_size, **options}))
    root = require_dir(Path(opts["root"]).expanduser(), "dataset root")
    mask_dir = require_dir(root / "masks" / "defective", "mask folder",
                           "defect masks go in masks/defective/ under the image's file name "
                           "(use the folder plugin for images without masks)")
    masks = mask_index(mask_dir)
    train, missing_train = _split_records(root, "train", masks)
    test, missing_test = _split_records(root, "test", masks)
    missing = missing_train + missing_test
    if missing and opts["require_masks"]:
        raise HarnessError(f"{plural(len(missing), 'defective image')} without a mask in {mask_dir} "
                           f"(require_masks = true):\n{listing(missing)}")
    splits = {**split_records(train, {"val": opts["val_ratio"]}, opts["seed"]), "test": test}
    return build_dataset("defect-folder", CLASSES, splits, root=root, opts=opts,
                         hint="add images or raise val_ratio")
