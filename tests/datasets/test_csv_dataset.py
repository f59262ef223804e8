"""The ``csv`` dataset: split columns, per-split files, labels, masks, sampling, errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness_datasets.table import check, table

SIZE = 8


def image(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((SIZE, SIZE, 3), value, np.uint8)).save(path)


def write_csv(path, rows, header):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def cats_tree(tmp_path, n_train=(12, 6), n_test=(4, 2)):
    """Sewer-style rows: ``Filename, Defect, split`` with 0/1 labels."""
    rows = []
    for split, (normal, defect) in (("train", n_train), ("test", n_test)):
        for label, count in ((0, normal), (1, defect)):
            for i in range(count):
                name = f"{split}_{label}_{i}.png"
                image(tmp_path / "imgs" / name, 10 * i + label)
                rows.append([name, label, split.upper() if i == 0 else split])
    return write_csv(tmp_path / "imgs" / "sewer.csv", rows, ["Filename", "Defect", "Split"])


def test_one_csv_with_a_split_column_and_named_integer_labels(tmp_path):
    path = cats_tree(tmp_path)
    ds = table(image_size=SIZE, csv=str(path), image_column="Filename", label_column="Defect", split_column="Split",
               classes=["normal", "defect"], val_ratio=0.25)
    assert ds.classes == ("normal", "defect")
    assert ds.test.class_counts(2) == [4, 2]
    assert ds.val.class_counts(2) == [3, 2]  # round(12 * 0.25), round(6 * 0.25) = round(1.5)
    assert ds.train.class_counts(2) == [9, 4]
    for s in (ds.train, ds.val, ds.test):
        for img, label, sid in zip(s.images, s.labels, s.sample_ids):
            assert int(sid.split("_")[1]) == label
            assert (img == int(sid.split("_")[2][:-4]) * 10 + label).all()


def test_integer_labels_without_names_and_string_labels(tmp_path):
    path = cats_tree(tmp_path)
    ds = table(image_size=SIZE, csv=str(path), image_column="Filename", label_column="Defect", split_column="Split")
    assert ds.classes == ("class_0", "class_1")
    rows = [[f"{c}{i}.png", c.upper() if i % 2 else c, s] for c in ("Dog", "cat") for i in range(4)
            for s in (("train" if i < 3 else "test"),)]
    for name, _, _ in rows:
        image(tmp_path / "pets" / name, 1)
    ds = table(image_size=SIZE, csv=str(write_csv(tmp_path / "pets" / "p.csv", rows, ["image", "label", "split"])),
               val_ratio=0.34)
    assert ds.classes == ("cat", "dog")
    assert ds.test.class_counts(2) == [1, 1] and ds.val.class_counts(2) == [1, 1]


def test_per_split_csvs_with_a_separate_root(tmp_path):
    root = tmp_path / "images"
    tables = tmp_path / "tables"
    tables.mkdir()
    split_rows = {}
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        split_rows[split] = [[f"{split}/{i}.png", i % 2] for i in range(n)]
        for name, _ in split_rows[split]:
            image(root / name, 5)
    paths = {f"{s}_csv": str(write_csv(tables / f"{s}.csv", r, ["image", "label"])) for s, r in split_rows.items()}
    ds = table(image_size=SIZE, root=str(root), **paths)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (6, 2, 3)
    assert ds.val.sample_ids == ("val/0.png", "val/1.png")


def test_mask_column_puts_defect_pixels_in_place(tmp_path):
    rows = []
    for i in range(6):
        label = i % 2
        image(tmp_path / f"{i}.png", 0)
        mask_name = ""
        if label and i != 5:
            mask = np.zeros((SIZE, SIZE), np.uint8)
            mask[i, 2:4] = 255
            mask_name = f"m{i}.png"
            Image.fromarray(mask).save(tmp_path / mask_name)
        rows.append([f"{i}.png", ["normal", "defect"][label], "test" if i >= 4 else "train", mask_name])
    path = write_csv(tmp_path / "d.csv", rows, ["image", "label", "split", "mask"])
    ds = table(image_size=SIZE, csv=str(path), mask_column="mask", classes=["normal", "defect"], val_ratio=0.0001)
    every = {sid: (s, k) for s in (ds.train, ds.val, ds.test) for k, sid in enumerate(s.sample_ids)}
    for i in range(6):
        split, k = every[f"{i}.png"]
        expected = np.zeros((SIZE, SIZE), np.uint8)
        if i in (1, 3):
            expected[i, 2:4] = 1
        np.testing.assert_array_equal(split.masks[k], expected)
        assert split.has_mask[k] == (i != 5)  # a normal image counts as masked; defect 5 has no mask


def test_random_sampling_ratio_is_stratified_and_seeded(tmp_path):
    path = cats_tree(tmp_path, n_train=(20, 10), n_test=(10, 6))
    opts = dict(csv=str(path), image_column="Filename", label_column="Defect", split_column="Split", val_ratio=0.2)
    ds = table(image_size=SIZE, random_sampling_ratio=0.5, seed=4, **opts)
    assert ds.test.class_counts(2) == [5, 3]
    assert ds.val.class_counts(2) == [2, 1] and ds.train.class_counts(2) == [8, 4]
    again = table(image_size=SIZE, random_sampling_ratio=0.5, seed=4, **opts)
    assert ds.train.sample_ids == again.train.sample_ids and ds.fingerprint == again.fingerprint
    other = table(image_size=SIZE, random_sampling_ratio=0.5, seed=5, **opts)
    assert set(other.test.sample_ids) != set(ds.test.sample_ids)


def test_missing_column_names_it_and_lists_the_columns(tmp_path):
    path = cats_tree(tmp_path)
    with pytest.raises(HarnessError, match=r"no column 'label'; columns present: 'Filename', 'Defect', 'Split'"):
        table(image_size=SIZE, csv=str(path), image_column="Filename", split_column="Split")


def test_missing_files_are_listed_with_the_total(tmp_path):
    rows = [[f"gone{i:02d}.png", i % 2, "train"] for i in range(12)] + [["gone_test.png", 0, "test"]]
    path = write_csv(tmp_path / "d.csv", rows, ["image", "label", "split"])
    with pytest.raises(HarnessError) as info:
        table(image_size=SIZE, csv=str(path))
    message = str(info.value)
    assert "13 listed files not found" in message and "and 3 more (13 in total)" in message
    assert message.count("gone") == 10


def test_bad_split_values_and_option_combinations(tmp_path):
    image(tmp_path / "a.png", 1)
    path = write_csv(tmp_path / "d.csv", [["a.png", 0, "holdout"]], ["image", "label", "split"])
    with pytest.raises(HarnessError, match="line 2: 'holdout'"):
        table(image_size=SIZE, csv=str(path))
    assert [k for k, _ in check({"csv": "a.csv", "test_csv": "b.csv"})] == ["csv"]
    assert [k for k, _ in check({"train_csv": "a.csv"})] == ["csv"]
    assert check({"train_csv": "a.csv", "test_csv": "b.csv", "random_sampling_ratio": 1.0}) == []
    assert [k for k, _ in check({"csv": "a.csv", "random_sampling_ratio": 0})] == ["random_sampling_ratio"]
    with pytest.raises(HarnessError, match="does not exist"):
        table(image_size=SIZE, csv=str(tmp_path / "none.csv"))
