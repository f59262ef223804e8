"""``synthetic-defects``: determinism, disjoint regions, exact masks, options, learnability."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from PIL import Image
from skimage import data

import harness_datasets
from harness import HarnessError
from harness.registry import Registry
from harness_datasets.embedded import check, synthetic_defects

SIZE = 32
SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def textures():
    return {name: getattr(data, name)() for name in ("brick", "grass", "gravel")}


@pytest.fixture(scope="module")
def dataset():
    return synthetic_defects(SIZE, n_train=120, n_val=36, n_test=48)


def crop(textures, name, x, y, side, rotate=False):
    """The crop a sample claims to come from, resized the way the generator documents."""
    piece = textures[name][y:y + side, x:x + side]
    if rotate:
        piece = np.rot90(piece).copy()
    return np.asarray(Image.fromarray(piece).resize((SIZE, SIZE), Image.Resampling.BOX))


def samples(ds):
    for name in SPLITS:
        split = ds.split(name)
        for i in range(len(split)):
            yield name, split.images[i], split.masks[i], split.labels[i], split.meta[i]


def test_registered_with_its_option_check():
    registry = Registry("dataset")
    harness_datasets.harness_register_datasets(registry=registry)
    entry = registry.entry("synthetic-defects")
    assert entry.factory is synthetic_defects
    assert entry.check is check
    assert registry.default == "synthetic-defects"


def test_same_seed_same_data_and_another_seed_other_data():
    a = synthetic_defects(SIZE, n_train=12, n_val=6, n_test=6, seed=3)
    b = synthetic_defects(SIZE, n_train=12, n_val=6, n_test=6, seed=3)
    c = synthetic_defects(SIZE, n_train=12, n_val=6, n_test=6, seed=4)
    for name in SPLITS:
        sa, sb, sc = a.split(name), b.split(name), c.split(name)
        np.testing.assert_array_equal(sa.images, sb.images)
        np.testing.assert_array_equal(sa.masks, sb.masks)
        np.testing.assert_array_equal(sa.labels, sb.labels)
        assert sa.sample_ids == sb.sample_ids and sa.meta == sb.meta
        assert not np.array_equal(sa.images, sc.images)
    assert a.fingerprint == b.fingerprint
    assert len({a.fingerprint, c.fingerprint, synthetic_defects(48, n_train=12, n_val=6, n_test=6, seed=3).fingerprint}) == 3


def test_counts_shapes_labels_and_ids():
    ds = synthetic_defects(SIZE, n_train=20, n_val=12, n_test=16, defect_ratio=0.25, channels=1)
    assert ds.classes == ("normal", "defect")
    for name, n in (("train", 20), ("val", 12), ("test", 16)):
        split = ds.split(name)
        assert split.images.shape == (n, SIZE, SIZE, 1) and split.images.dtype == np.uint8
        assert split.masks.shape == (n, SIZE, SIZE) and split.masks.dtype == np.uint8
        assert split.labels.dtype == np.int64 and split.has_mask.tolist() == [True] * n
        assert split.class_counts(2) == [n - n // 4, n // 4]
        expected_ids = [f"{name}/{('brick', 'grass', 'gravel')[i % 3]}/{i:05d}" for i in range(n)]
        assert list(split.sample_ids) == expected_ids
        for sid, label, mask, meta in zip(split.sample_ids, split.labels, split.masks, split.meta):
            assert meta["texture"] == sid.split("/")[1]
            assert (meta["defect"] == "none") == (label == 0)
            assert set(np.unique(mask)) <= {0, 1}
            assert (mask.sum() > 0) == (label == 1)


def test_rgb_is_the_grey_image_replicated():
    ds = synthetic_defects(SIZE, n_train=6, n_val=3, n_test=3)
    images = ds.train.images
    assert images.shape[-1] == 3
    np.testing.assert_array_equal(images[..., 1], images[..., 0])
    np.testing.assert_array_equal(images[..., 2], images[..., 0])


def test_splits_never_share_a_texture_pixel_column(dataset):
    # Columns used by each split, per texture: its crops plus the textures it blends in.
    columns = {name: defaultdict(set) for name in SPLITS}
    for name, _, _, _, meta in samples(dataset):
        x, _, side = meta["crop"]
        columns[name][meta["texture"]].update(range(x, x + side))
        if "donor" in meta:
            texture, dx, _, dside = meta["donor"]
            columns[name][texture].update(range(dx, dx + dside))
    for texture in ("brick", "grass", "gravel"):
        used = [columns[name][texture] for name in SPLITS]
        assert all(used)
        assert not used[0] & used[1] and not used[0] & used[2] and not used[1] & used[2]


def test_masks_are_exactly_the_changed_pixels(dataset, textures):
    for _, image, mask, label, meta in samples(dataset):
        x, y, side = meta["crop"]
        clean = crop(textures, meta["texture"], x, y, side)
        outside, inside = mask == 0, mask == 1
        np.testing.assert_array_equal(image[..., 0][outside], clean[outside])
        assert (image[..., 0][inside] != clean[inside]).all()
        if label == 0:
            np.testing.assert_array_equal(image[..., 0], clean)


def test_blob_fill_is_the_recorded_donor_crop(dataset, textures):
    blobs = [(image, mask, meta) for _, image, mask, _, meta in samples(dataset) if meta["defect"] == "blob"]
    assert len(blobs) >= 5
    for image, mask, meta in blobs:
        texture, x, y, side = meta["donor"]
        donor = crop(textures, texture, x, y, side, rotate=True)
        inside = mask == 1
        # The blob's opaque core shows the donor unchanged; its soft rim is a blend.
        assert (image[..., 0][inside] == donor[inside]).mean() > 0.5


def test_each_defect_kind_is_visible_and_local(dataset, textures):
    area, contrast = defaultdict(list), defaultdict(list)
    for _, image, mask, _, meta in samples(dataset):
        if meta["defect"] == "none":
            continue
        x, y, side = meta["crop"]
        clean = crop(textures, meta["texture"], x, y, side).astype(int)
        area[meta["defect"]].append(mask.mean())
        contrast[meta["defect"]].append(np.abs(image[..., 0].astype(int) - clean)[mask == 1].mean())
    assert set(area) == {"crack", "blob", "patch", "stain"}
    for kind in area:
        assert 0.01 <= np.median(area[kind]) <= 0.3, kind
        assert np.median(contrast[kind]) >= 15, kind


def test_texture_and_kind_options_restrict_the_data():
    ds = synthetic_defects(SIZE, n_train=12, n_val=4, n_test=4, textures=["gravel"], defect_kinds=["stain"])
    metas = [m for name in SPLITS for m in ds.split(name).meta]
    assert {m["texture"] for m in metas} == {"gravel"}
    assert {m["defect"] for m in metas} == {"none", "stain"}


def test_check_accepts_defaults_and_names_every_bad_option():
    assert check({"image_size": 64}) == []
    problems = dict(check({"image_size": 64, "n_trian": 10, "n_val": 1, "defect_ratio": 1.5, "textures": ["marble"],
                           "defect_kinds": [], "channels": 2, "seed": -1}))
    assert set(problems) == {"n_trian", "n_val", "defect_ratio", "textures", "defect_kinds", "channels", "seed"}
    assert "Did you mean 'n_train'" in problems["n_trian"]
    assert "marble" in problems["textures"]
    assert [k for k, _ in check({"seed": True})] == ["seed"]


def test_factory_raises_a_harness_error_naming_the_option():
    with pytest.raises(HarnessError, match="channels"):
        synthetic_defects(SIZE, channels=4)
    with pytest.raises(HarnessError, match="seed"):
        synthetic_defects(SIZE, seed=-2)


def features(images, meta):
    """Per-image statistics: global, 8x8-block and gradient, each also per texture."""
    g = images[..., 0].astype(np.float32)
    n, side = len(g), g.shape[1] // 8
    blocks = g.reshape(n, 8, side, 8, side)
    means, stds = blocks.mean(axis=(2, 4)).reshape(n, -1), blocks.std(axis=(2, 4)).reshape(n, -1)
    centre = np.median(means, axis=1, keepdims=True)
    q = np.percentile(g.reshape(n, -1), [1, 5, 95, 99], axis=1).T
    f = np.column_stack([g.mean((1, 2)), g.std((1, 2)), means.std(1), np.abs(means - centre).max(1), stds.std(1),
                         stds.max(1) - np.median(stds, 1), stds.min(1), np.abs(np.diff(g, axis=1)).mean((1, 2)),
                         np.abs(np.diff(g, axis=2)).mean((1, 2)), q])
    onehot = np.array([[m["texture"] == t for t in ("brick", "grass", "gravel")] for m in meta], float)
    return np.column_stack([f, (f[:, :, None] * onehot[:, None, :]).reshape(n, -1)])


def test_defects_are_learnable_from_simple_statistics():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ds = synthetic_defects(SIZE, n_train=320, n_val=8, n_test=150)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=5000))
    clf.fit(features(ds.train.images, ds.train.meta), ds.train.labels)
    score = balanced_accuracy_score(ds.test.labels, clf.predict(features(ds.test.images, ds.test.meta)))
    assert score >= 0.65  # chance is 0.5; about 0.75 is typical, a CNN does better
