"""The ``defect-folder`` dataset: GAIN-MTL's images/ + masks/defective layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness_datasets.defect_folder import defect_folder

SIZE = 16


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def box(k):
    """The defect region of image ``k``: a 2x3 box that moves with k."""
    return slice(k, k + 2), slice(2 * k, 2 * k + 3)


def make_tree(root, counts=None, unmasked=("train_d3.png",)):
    counts = counts or {"train": (10, 5), "test": (4, 3)}
    for split, (normal, defect) in counts.items():
        for i in range(normal):
            save(root / "images" / split / "normal" / f"{split}_n{i}.png", np.full((SIZE, SIZE, 3), 100, np.uint8))
        for i in range(defect):
            name = f"{split}_d{i}.png"
            save(root / "images" / split / "defective" / name, np.full((SIZE, SIZE), 30, np.uint8))
            if name not in unmasked:
                mask = np.zeros((SIZE, SIZE), np.uint8)
                mask[box(i + (4 if split == "test" else 0))] = 255
                save(root / "masks" / "defective" / name, mask)
    (root / "masks" / "defective").mkdir(parents=True, exist_ok=True)
    return root


def test_masks_travel_with_their_images(tmp_path):
    ds = defect_folder(image_size=SIZE, root=str(make_tree(tmp_path / "d")), val_ratio=0.2)
    assert ds.classes == ("normal", "defect")
    seen = 0
    for s in (ds.train, ds.val, ds.test):
        assert s.masks.shape == (len(s), SIZE, SIZE)
        for k, sid in enumerate(s.sample_ids):
            split, folder, name = sid.split("/")
            expected = np.zeros((SIZE, SIZE), np.uint8)
            if folder == "defective" and name != "train_d3.png":
                i = int(name.split("_d")[1][:-4])
                expected[box(i + (4 if split == "test" else 0))] = 1
            np.testing.assert_array_equal(s.masks[k], expected, err_msg=sid)
            assert s.has_mask[k] == (name != "train_d3.png")
            assert s.labels[k] == (folder == "defective")
            seen += 1
    assert seen == 22


def test_val_is_carved_from_train_stratified_and_seeded(tmp_path):
    root = make_tree(tmp_path / "d")
    ds = defect_folder(image_size=SIZE, root=str(root), val_ratio=0.2, seed=7)
    assert ds.val.class_counts(2) == [2, 1] and ds.train.class_counts(2) == [8, 4]
    assert ds.test.class_counts(2) == [4, 3]
    assert all(sid.startswith("test/") for sid in ds.test.sample_ids)
    again = defect_folder(image_size=SIZE, root=str(root), val_ratio=0.2, seed=7)
    assert again.val.sample_ids == ds.val.sample_ids
    assert any(defect_folder(image_size=SIZE, root=str(root), seed=s).val.sample_ids != ds.val.sample_ids
               for s in (8, 9, 10))


def test_grey_defect_images_become_rgb(tmp_path):
    ds = defect_folder(image_size=SIZE, root=str(make_tree(tmp_path / "d")))
    k = ds.test.sample_ids.index("test/defective/test_d0.png")
    assert ds.test.images.shape[-1] == 3 and (ds.test.images[k] == 30).all()


def test_require_masks_lists_the_defects_without_one(tmp_path):
    root = make_tree(tmp_path / "d")
    with pytest.raises(HarnessError, match=r"(?s)1 defective image without a mask.*train_d3\.png"):
        defect_folder(image_size=SIZE, root=str(root), require_masks=True)


def test_missing_mask_folder_names_the_path(tmp_path):
    root = make_tree(tmp_path / "d")
    for path in (root / "masks" / "defective").iterdir():
        path.unlink()
    (root / "masks" / "defective").rmdir()
    with pytest.raises(HarnessError, match=r"mask folder .*masks/defective does not exist"):
        defect_folder(image_size=SIZE, root=str(root))


def test_missing_split_folder_names_the_path(tmp_path):
    root = make_tree(tmp_path / "d", counts={"train": (4, 2)})
    with pytest.raises(HarnessError, match=r"images/test/normal does not exist"):
        defect_folder(image_size=SIZE, root=str(root))
