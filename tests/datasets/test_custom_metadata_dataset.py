"""The ``custom-metadata`` dataset: file-name metadata, data_info.csv and label sources."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness_datasets.custom import check, custom_metadata, parse_name

SIZE = 8


def save(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((SIZE, SIZE, 3), value, np.uint8)).save(path)


def make_tree(root):
    """normal: 10 files over two patterns; scratch and dent: 5 each."""
    data = root / "data_rgb"
    for i in range(10):
        save(data / "normal" / f"pattern{1 + i % 2} {60 + i} 100.png", 1)
    for i in range(5):
        save(data / "scratch" / f"pattern1 {60 + i} 200_v{i}.png", 2)
        save(data / "dent" / f"design_A {80 + i} 150.png", 3)
    return root


def test_parse_name_follows_the_documented_pattern():
    assert parse_name(Path("pattern1 60 100.png")) == {
        "category": "pattern1", "freq": "60", "dimming": "100", "extra": ""}
    assert parse_name(Path("design_A 80 150_v2.png"))["extra"] == "v2"
    for bad in ("image001.png", "pattern1_60_100.png", "pattern1 60.png", "pattern1  60 100.png"):
        assert parse_name(Path(bad)) is None, bad


def test_folders_give_normal_and_defect_with_the_metadata(tmp_path):
    root = make_tree(tmp_path / "ds")
    ds = custom_metadata(image_size=SIZE, root=str(root), val_ratio=0.2, test_ratio=0.2)
    assert ds.classes == ("normal", "defect")
    totals = np.sum([s.class_counts(2) for s in (ds.train, ds.val, ds.test)], axis=0).tolist()
    assert totals == [10, 10]
    # stratified by folder: normal 10 -> 2/2/6, scratch and dent 5 -> 1/1/3 each
    assert ds.test.class_counts(2) == [2, 2] and ds.val.class_counts(2) == [2, 2]
    for s in (ds.train, ds.val, ds.test):
        for k, (sid, meta) in enumerate(zip(s.sample_ids, s.meta)):
            folder, name = sid.split("/")
            assert meta["folder"] == folder and name.startswith(f"{meta['category']} {meta['freq']} {meta['dimming']}")
            assert meta["defect_type"] == ("good" if folder == "normal" else folder)
            assert (s.images[k] == {"normal": 1, "scratch": 2, "dent": 3}[folder]).all()


def test_data_info_csv_is_written_beside_the_folders(tmp_path):
    root = make_tree(tmp_path / "ds")
    custom_metadata(image_size=SIZE, root=str(root))
    with (root / "data_rgb" / "data_info.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    row = next(r for r in rows if r["path"] == "scratch/pattern1 62 200_v2.png")
    assert row == {"path": "scratch/pattern1 62 200_v2.png", "folder": "scratch", "category": "pattern1",
                   "freq": "62", "dimming": "200", "extra": "v2", "label": "1", "class": "defect"}


def test_unwritable_dataset_folder_puts_data_info_in_the_cache(tmp_path):
    root = make_tree(tmp_path / "ds")
    data = root / "data_rgb"
    (data / "data_info.csv").mkdir()  # permission bits do not stop root, a folder in the way does
    custom_metadata(image_size=SIZE, root=str(data))
    fallback = tmp_path / "cache" / "custom-metadata" / hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:16]
    assert (fallback / "data_info.csv").read_text().count("\n") == 21


def test_label_sources_and_category_filter(tmp_path):
    root = make_tree(tmp_path / "ds")
    ds = custom_metadata(image_size=SIZE, root=str(root), label_from="folder-classes")
    assert ds.classes == ("dent", "normal", "scratch")
    ds = custom_metadata(image_size=SIZE, root=str(root), label_from="category")
    assert ds.classes == ("design_a", "pattern1", "pattern2")
    ds = custom_metadata(image_size=SIZE, root=str(root), category="pattern1", val_ratio=0.2, test_ratio=0.2)
    metas = [m for s in (ds.train, ds.val, ds.test) for m in s.meta]
    assert len(metas) == 10 and {m["category"] for m in metas} == {"pattern1"}
    assert [k for k, _ in check({"root": "x", "label_from": "category", "category": "p"})] == ["category"]


def test_bad_names_are_reported_together_with_the_pattern(tmp_path):
    root = make_tree(tmp_path / "ds")
    for bad in ("normal/image001.png", "scratch/pattern1_60_100.png", "dent/pattern1 60.png"):
        save(root / "data_rgb" / bad)
    with pytest.raises(HarnessError) as info:
        custom_metadata(image_size=SIZE, root=str(root))
    message = str(info.value)
    assert "3 file names not of the form '{category} {freq} {dimming}[_{extra}].png'" in message
    for bad in ("normal/image001.png", "scratch/pattern1_60_100.png", "dent/pattern1 60.png"):
        assert bad in message


def test_a_tree_without_defect_folders_is_an_error(tmp_path):
    save(tmp_path / "only" / "normal" / "p 1 2.png")
    save(tmp_path / "only" / "normal" / "p 1 3.png")
    with pytest.raises(HarnessError, match="no defect folder"):
        custom_metadata(image_size=SIZE, root=str(tmp_path / "only"))
