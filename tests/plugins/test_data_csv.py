"""``csv`` dataset on CATS-style trees: mixed grey/RGB files, decoding and file errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness_datasets.table import table

SIZE = 8


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sewer_tree(root, n=6):
    """``Filename, Defect``: even rows grey 12x20 PNGs, odd rows RGB 16x16 PNGs, in subfolders."""
    rows, expected = [], {}
    for split in ("train", "test"):
        for i in range(n):
            name = f"{split}/{'grey' if i % 2 == 0 else 'rgb'}_{i}.png"
            (root / split).mkdir(parents=True, exist_ok=True)
            if i % 2 == 0:
                value = 20 * i + 5
                Image.fromarray(np.full((20, 12), value, np.uint8), mode="L").save(root / name)
                expected[name] = (value, value, value)
            else:
                colour = (10 * i, 200 - 10 * i, 7 * i)
                Image.fromarray(np.full((16, 16, 3), colour, np.uint8), mode="RGB").save(root / name)
                expected[name] = colour
            rows.append([name, i % 2])
    return rows, expected


def test_grey_and_rgb_files_decode_to_rgb_squares(tmp_path):
    root = tmp_path / "sewer"
    rows, expected = sewer_tree(root)
    paths = {f"{split}_csv": str(write_csv(tmp_path / f"{split}.csv", ["Filename", "Defect"],
                                           [r for r in rows if r[0].startswith(split)]))
             for split in ("train", "test")}
    ds = table(image_size=SIZE, root=str(root), image_column="Filename", label_column="Defect",
               classes=["normal", "defect"], val_ratio=0.34, **paths)
    assert ds.classes == ("normal", "defect")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (4, 2, 6)
    assert ds.val.class_counts(2) == [1, 1]  # round(3 * 0.34) of each class
    for split in (ds.train, ds.val, ds.test):
        assert split.images.shape == (len(split), SIZE, SIZE, 3) and split.images.dtype == np.uint8
        for sid, img, label in zip(split.sample_ids, split.images, split.labels):
            assert (img == np.array(expected[sid], np.uint8)).all(), sid
            assert label == int(sid.split("_")[1][:-4]) % 2


def test_a_truncated_png_is_named(tmp_path):
    root = tmp_path / "sewer"
    rows, _ = sewer_tree(root)
    rng = np.random.default_rng(0)
    broken = root / "test" / "rgb_3.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(broken)  # noise keeps the file large
    broken.write_bytes(broken.read_bytes()[:400])
    path = write_csv(root / "all.csv", ["image", "label", "split"], [[n, d, n.split("/")[0]] for n, d in rows])
    with pytest.raises(HarnessError, match=r"(?s)1 file cannot be decoded.*rgb_3\.png"):
        table(image_size=SIZE, csv=str(path))


def test_a_missing_root_and_a_missing_csv_are_named(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["image", "label", "split"], [["a.png", 0, "train"]])
    with pytest.raises(HarnessError, match=f"image root {tmp_path / 'nowhere'} does not exist"):
        table(image_size=SIZE, csv=str(path), root=str(tmp_path / "nowhere"))
    with pytest.raises(HarnessError, match=r"CSV file .*test\.csv does not exist"):
        table(image_size=SIZE, train_csv=str(path), test_csv=str(tmp_path / "test.csv"))


def test_a_missing_split_column_is_named_with_the_columns_present(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["Filename", "Defect"], [["a.png", 0]])
    with pytest.raises(HarnessError, match=r"no column 'split'; columns present: 'Filename', 'Defect'"):
        table(image_size=SIZE, csv=str(path), image_column="Filename", label_column="Defect")
