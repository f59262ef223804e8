"""The ``mvtec``, ``btad`` and ``visa`` datasets: layouts, mask pairing and the test carve."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness_datasets.mvtec import btad, mvtec
from harness_datasets.visa import visa

SIZE = 16


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def defect_mask(row):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[row, 3:7] = 255
    return mask


def mvtec_tree(root, category="widget", train=10, good=4, defects=(("crack", 4), ("hole", 2))):
    cat = root / category
    for i in range(train):
        save(cat / "train" / "good" / f"{i:03d}.png", np.full((SIZE, SIZE, 3), 90, np.uint8))
    for i in range(good):
        save(cat / "test" / "good" / f"{i:03d}.png", np.full((SIZE, SIZE, 3), 91, np.uint8))
    for kind, n in defects:
        for i in range(n):
            save(cat / "test" / kind / f"{i:03d}.png", np.full((SIZE, SIZE, 3), 20, np.uint8))
            save(cat / "ground_truth" / kind / f"{i:03d}_mask.png", defect_mask(i + 5 * (kind == "hole")))
    return root


def by_type(split):
    out = {}
    for meta in split.meta:
        out[meta["defect_type"]] = out.get(meta["defect_type"], 0) + 1
    return out


def test_mvtec_moves_test_defects_into_training_per_type(tmp_path):
    ds = mvtec(image_size=SIZE, root=str(mvtec_tree(tmp_path)), category="widget", train_defects_from_test=0.5,
               val_ratio=0.2, seed=0)
    assert ds.classes == ("normal", "defect")
    # test: 4 good + half of each defect type stays (crack 2 of 4, hole 1 of 2)
    assert by_type(ds.test) == {"good": 4, "crack": 2, "hole": 1}
    # train + val: 10 good, crack 2, hole 1; val takes round(0.2 n) per type, at least one of 2+
    assert by_type(ds.val) == {"good": 2, "crack": 1}
    assert by_type(ds.train) == {"good": 8, "crack": 1, "hole": 1}
    for s in (ds.train, ds.val, ds.test):
        assert s.labels.tolist() == [int(m["defect_type"] != "good") for m in s.meta]
        assert all(m["category"] == "widget" for m in s.meta)
    assert not set(ds.test.sample_ids) & (set(ds.train.sample_ids) | set(ds.val.sample_ids))


def test_mvtec_masks_pair_with_their_images(tmp_path):
    ds = mvtec(image_size=SIZE, root=str(mvtec_tree(tmp_path)), category="widget")
    checked = 0
    for s in (ds.train, ds.val, ds.test):
        for k, (sid, meta) in enumerate(zip(s.sample_ids, s.meta)):
            expected = np.zeros((SIZE, SIZE), np.uint8)
            if meta["defect_type"] != "good":
                i = int(sid.rsplit("/", 1)[1][:3])
                expected[i + 5 * (meta["defect_type"] == "hole"), 3:7] = 1
                checked += 1
            np.testing.assert_array_equal(s.masks[k], expected, err_msg=sid)
        assert s.has_mask.all()
    assert checked == 6


def test_mvtec_without_moving_defects_keeps_the_benchmark_split(tmp_path):
    ds = mvtec(image_size=SIZE, root=str(mvtec_tree(tmp_path) / "widget"), train_defects_from_test=0.0)
    assert ds.train.labels.sum() == 0 and ds.val.labels.sum() == 0
    assert len(ds.train) + len(ds.val) == 10 and by_type(ds.test) == {"good": 4, "crack": 4, "hole": 2}


def test_mvtec_carve_is_seeded(tmp_path):
    root = str(mvtec_tree(tmp_path, defects=(("crack", 10),)))
    first = mvtec(image_size=SIZE, root=root, category="widget", seed=1)
    assert first.test.sample_ids == mvtec(image_size=SIZE, root=root, category="widget", seed=1).test.sample_ids
    assert any(mvtec(image_size=SIZE, root=root, category="widget", seed=s).test.sample_ids != first.test.sample_ids
               for s in (2, 3, 4))


def test_mvtec_category_errors_list_the_categories(tmp_path):
    root = mvtec_tree(tmp_path)
    mvtec_tree(tmp_path, category="gadget")
    with pytest.raises(HarnessError, match=r"categories \['gadget', 'widget'\]; choose one"):
        mvtec(image_size=SIZE, root=str(root))
    with pytest.raises(HarnessError, match=r"gizmo does not exist; categories found: \['gadget', 'widget'\]"):
        mvtec(image_size=SIZE, root=str(root), category="gizmo")


def test_mvtec_missing_ground_truth_and_required_masks(tmp_path):
    root = mvtec_tree(tmp_path)
    (root / "widget" / "ground_truth" / "hole" / "001_mask.png").unlink()
    ds = mvtec(image_size=SIZE, root=str(root), category="widget", train_defects_from_test=0.0)
    k = ds.test.sample_ids.index("widget/test/hole/001.png")
    assert not ds.test.has_mask[k] and ds.test.has_mask.sum() == len(ds.test) - 1
    with pytest.raises(HarnessError, match=r"(?s)1 defect image without a mask.*hole/001\.png"):
        mvtec(image_size=SIZE, root=str(root), category="widget", require_masks=True)
    for path in sorted((root / "widget" / "ground_truth").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (root / "widget" / "ground_truth").rmdir()
    with pytest.raises(HarnessError, match=r"mask folder .*widget/ground_truth does not exist"):
        mvtec(image_size=SIZE, root=str(root), category="widget")


def test_btad_layout_with_bmp_images_and_png_masks(tmp_path):
    cat = tmp_path / "btad" / "01"
    for i in range(6):
        save(cat / "train" / "ok" / f"{i:04d}.bmp", np.full((SIZE, SIZE, 3), 70, np.uint8))
    for i in range(3):
        save(cat / "test" / "ok" / f"{i:04d}.bmp", np.full((SIZE, SIZE, 3), 71, np.uint8))
        save(cat / "test" / "ko" / f"{i:04d}.bmp", np.full((SIZE, SIZE, 3), 5, np.uint8))
        save(cat / "ground_truth" / "ko" / f"{i:04d}.png", defect_mask(i + 8))
    ds = btad(image_size=SIZE, root=str(tmp_path / "btad"), category="01", train_defects_from_test=0.34)
    assert by_type(ds.test) == {"good": 3, "ko": 2}
    assert sum(by_type(s).get("ko", 0) for s in (ds.train, ds.val)) == 1
    for s in (ds.train, ds.val, ds.test):
        for k, sid in enumerate(s.sample_ids):
            assert (s.images[k] == (5 if "/ko/" in sid else 70 if "/train/" in sid else 71)).all()
            if "/ko/" in sid:
                assert s.masks[k].sum() == 4 and s.masks[k][int(sid[-6:-4]) + 8, 3:7].all()


def visa_tree(root):
    rows = []
    for obj, n_normal, n_anomaly in (("candle", 8, 4), ("pipe_fryum", 3, 2)):
        base = root / obj / "Data"
        for i in range(n_normal):
            save(base / "Images" / "Normal" / f"{i:04d}.JPG", np.full((SIZE, SIZE, 3), 60, np.uint8))
            rows.append([obj, "train" if i < n_normal - 2 else "test", "normal",
                         f"{obj}/Data/Images/Normal/{i:04d}.JPG", ""])
        for i in range(n_anomaly):
            save(base / "Images" / "Anomaly" / f"{i:03d}.JPG", np.full((SIZE, SIZE, 3), 200, np.uint8))
            save(base / "Masks" / "Anomaly" / f"{i:03d}.png", defect_mask(i))
            rows.append([obj, "test", "anomaly", f"{obj}/Data/Images/Anomaly/{i:03d}.JPG",
                         f"{obj}/Data/Masks/Anomaly/{i:03d}.png"])
    (root / "split_csv").mkdir(parents=True)
    with (root / "split_csv" / "1cls.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["object", "split", "label", "image", "mask"])
        writer.writerows(rows)
    return root


def test_visa_reads_its_split_file_and_masks(tmp_path):
    root = visa_tree(tmp_path / "visa")
    ds = visa(image_size=SIZE, root=str(root), category="candle", train_defects_from_test=0.5, val_ratio=0.2)
    assert sum(len(s) for s in (ds.train, ds.val, ds.test)) == 12
    assert ds.test.class_counts(2) == [2, 2]
    assert ds.train.class_counts(2)[1] + ds.val.class_counts(2)[1] == 2
    for s in (ds.train, ds.val, ds.test):
        assert all(sid.startswith("candle/") for sid in s.sample_ids)
        for k, sid in enumerate(s.sample_ids):
            if "Anomaly" in sid:
                row = int(sid[-7:-4])
                assert s.masks[k].sum() == 4 and s.masks[k][row, 3:7].all()
            else:
                assert not s.masks[k].any() and s.has_mask[k]
    with pytest.raises(HarnessError, match=r"objects \['candle', 'pipe_fryum'\]"):
        visa(image_size=SIZE, root=str(root))
    with pytest.raises(HarnessError, match="VisA split file not found"):
        visa(image_size=SIZE, root=str(tmp_path), category="candle")


def test_mvtec_passes_the_dataset_contract(tmp_path):
    import harness_datasets
    from harness.plugins import build_plugins
    from harness.testing import check_dataset

    plugins = build_plugins(extra=(harness_datasets,))
    check_dataset(plugins, "mvtec", {"root": str(mvtec_tree(tmp_path)), "category": "widget"}, image_size=SIZE)
