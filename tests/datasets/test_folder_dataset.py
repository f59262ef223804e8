"""The ``folder`` dataset: class folders, split folders, stratified splits, broken files."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from PIL import Image

import harness_datasets
from harness import HarnessError
from harness.plugins import build_plugins
from harness.testing import check_dataset
from harness_datasets.folder import check, folder

SIZE = 8


def write(path, value, grey=False):
    """A flat image whose first pixel encodes ``value``, so each sample is recognisable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((SIZE, SIZE) if grey else (SIZE, SIZE, 3), 50, np.uint8)
    pixels[0, 0] = value
    Image.fromarray(pixels).save(path)


def make_tree(root, counts, prefix=""):
    n = 0
    for name, count in counts.items():
        for i in range(count):
            write(root / prefix / name / f"{i:03d}.png", n % 256, grey=(i % 2 == 1))
            n += 1
    return root


def test_flat_layout_splits_each_class_by_the_ratios(tmp_path):
    root = make_tree(tmp_path / "d", {"good": 20, "Bad Weld": 10, "scratch": 5})
    ds = folder(image_size=SIZE, root=str(root), val_ratio=0.2, test_ratio=0.2, seed=3)
    assert ds.classes == ("bad_weld", "good", "scratch")
    # per class: round(n * 0.2) to val and to test, the rest to train
    assert ds.test.class_counts(3) == [2, 4, 1]
    assert ds.val.class_counts(3) == [2, 4, 1]
    assert ds.train.class_counts(3) == [6, 12, 3]
    ids = [set(ds.split(s).sample_ids) for s in ("train", "val", "test")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert len(ids[0] | ids[1] | ids[2]) == 35


def test_pixels_labels_and_ids_come_from_the_files(tmp_path):
    root = make_tree(tmp_path / "d", {"a": 4, "b": 4})
    ds = folder(image_size=SIZE, root=str(root), val_ratio=0.25, test_ratio=0.25)
    for split in ("train", "val", "test"):
        s = ds.split(split)
        assert s.images.shape[1:] == (SIZE, SIZE, 3)
        for image, label, sid in zip(s.images, s.labels, s.sample_ids):
            assert sid.split("/")[0] == ds.classes[label]
            expected = np.asarray(Image.open(root / sid).convert("RGB"))
            np.testing.assert_array_equal(image, expected)
        assert s.masks is None


def test_split_is_deterministic_by_seed(tmp_path):
    root = make_tree(tmp_path / "d", {"a": 30, "b": 30})
    one = folder(image_size=SIZE, root=str(root), seed=1)
    again = folder(image_size=SIZE, root=str(root), seed=1)
    other = folder(image_size=SIZE, root=str(root), seed=2)
    assert one.val.sample_ids == again.val.sample_ids and one.fingerprint == again.fingerprint
    assert set(one.val.sample_ids) != set(other.val.sample_ids)
    assert one.fingerprint != other.fingerprint


def test_split_folders_are_used_as_given_and_val_is_carved_when_absent(tmp_path):
    root = tmp_path / "d"
    make_tree(root, {"cat": 5, "dog": 10}, prefix="train")
    make_tree(root, {"cat": 2, "dog": 3}, prefix="test")
    ds = folder(image_size=SIZE, root=str(root), val_ratio=0.2)
    assert ds.classes == ("cat", "dog")
    assert ds.test.class_counts(2) == [2, 3]
    assert ds.val.class_counts(2) == [1, 2]
    assert ds.train.class_counts(2) == [4, 8]
    make_tree(root, {"cat": 1, "dog": 1}, prefix="val")
    ds = folder(image_size=SIZE, root=str(root))
    assert ds.val.class_counts(2) == [1, 1] and ds.train.class_counts(2) == [5, 10]


def test_ten_classes_build_with_ten_classes(tmp_path):
    root = make_tree(tmp_path / "d", {f"class{k}": 5 for k in range(10)})
    plugins = build_plugins(extra=(harness_datasets,))
    check_dataset(plugins, "folder", {"root": str(root)}, image_size=SIZE)
    ds = plugins.registry("datasets").get("folder")(image_size=SIZE, root=str(root))
    assert ds.classes == tuple(f"class{k}" for k in range(10))
    for split in ("train", "val", "test"):
        assert all(n >= 1 for n in ds.split(split).class_counts(10))


def test_classes_option_orders_and_selects(tmp_path):
    root = make_tree(tmp_path / "d", {"normal": 5, "defect": 5, "other": 5})
    ds = folder(image_size=SIZE, root=str(root), classes=["normal", "defect"])
    assert ds.classes == ("normal", "defect")
    assert sum(len(ds.split(s)) for s in ("train", "val", "test")) == 10
    with pytest.raises(HarnessError, match="'missing'"):
        folder(image_size=SIZE, root=str(root), classes=["normal", "missing"])


def truncated_tree(tmp_path):
    root = make_tree(tmp_path / "d", {"a": 5, "b": 5})
    broken = root / "b" / "002.png"
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    return root


def test_truncated_image_fails_by_default_naming_the_file(tmp_path):
    root = truncated_tree(tmp_path)
    with pytest.raises(HarnessError, match=r"(?s)1 file cannot be decoded.*b/002\.png"):
        folder(image_size=SIZE, root=str(root))


def test_truncated_image_is_skipped_with_a_warning(tmp_path):
    root = truncated_tree(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 file "):
        ds = folder(image_size=SIZE, root=str(root), on_corrupt="skip")
    ids = [sid for s in ("train", "val", "test") for sid in ds.split(s).sample_ids]
    assert len(ids) == 9 and "b/002.png" not in ids
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean tree warns about nothing
        folder(image_size=SIZE, root=str(make_tree(tmp_path / "clean", {"a": 3, "b": 3})))


def test_broken_trees_and_options_give_clear_errors(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        folder(image_size=SIZE, root=str(tmp_path / "nowhere"))
    one = make_tree(tmp_path / "one", {"only": 4})
    with pytest.raises(HarnessError, match="at least two"):
        folder(image_size=SIZE, root=str(one))
    mixed = make_tree(tmp_path / "mixed", {"a": 2}, prefix="train")
    make_tree(mixed, {"b": 2})
    with pytest.raises(HarnessError, match="mixes layouts"):
        folder(image_size=SIZE, root=str(mixed))
    problems = dict(check({"root": "x", "val_ratio": 0.6, "test_ratio": 0.5, "sed": 1}))
    assert "val_ratio + test_ratio" in problems["test_ratio"] and "Did you mean 'seed'" in problems["sed"]
    assert check({}) == [("root", "is required by dataset 'folder' (a string)")]


def test_second_build_maps_the_cache_and_a_changed_image_rebuilds_it(tmp_path):
    root = make_tree(tmp_path / "d", {"a": 6, "b": 6})
    first = folder(image_size=SIZE, root=str(root))
    entries = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "images").glob("*.npy")}
    assert len(entries) == 3  # one image stack per split
    second = folder(image_size=SIZE, root=str(root))
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "images").glob("*.npy")} == entries
    assert isinstance(second.train.images, np.memmap) and second.fingerprint == first.fingerprint
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(second.split(split).images, first.split(split).images)
    changed = root / second.test.sample_ids[0]
    write(changed, 222)
    later = changed.stat().st_mtime_ns + 10**9  # a clock tick may be coarser than the rewrite
    os.utime(changed, ns=(later, later))
    third = folder(image_size=SIZE, root=str(root))
    assert len(list((tmp_path / "cache" / "images").glob("*.npy"))) == 4  # only the test split was decoded again
    assert third.fingerprint != first.fingerprint
    assert third.test.images[0, 0, 0, 0] == 222 and third.test.sample_ids == first.test.sample_ids
