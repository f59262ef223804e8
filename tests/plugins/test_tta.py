"""TTA views, merges and batched multi-view inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from scipy.stats import gmean as scipy_gmean

from harness import HarnessError
from harness.train.tensors import Normalizer
from harness.tta import load_tta, predict_views, resolve, save_tta


@pytest.fixture(scope="module")
def registries():
    from harness.plugins import build_plugins

    return build_plugins().registries


@pytest.fixture(scope="module")
def images():
    return torch.randint(0, 256, (7, 3, 12, 12), generator=torch.Generator().manual_seed(0)).float()


def view(name, registries, **options):
    return registries["tta"].get(name)(**options)


def test_flips_and_rotations_are_exact(registries, images):
    np.testing.assert_array_equal(view("hflip", registries)(images), images.numpy()[..., ::-1])
    np.testing.assert_array_equal(view("vflip", registries)(images), images.numpy()[..., ::-1, :])
    rot90 = view("rot90", registries)
    np.testing.assert_array_equal(rot90(images), np.rot90(images.numpy(), 1, axes=(-2, -1)))
    assert torch.equal(rot90(rot90(rot90(rot90(images)))), images)
    assert torch.equal(view("rot180", registries)(images), rot90(rot90(images)))
    assert torch.equal(view("rot270", registries)(images), rot90(rot90(rot90(images))))
    assert torch.equal(view("identity", registries)(images), images)
    with pytest.raises(HarnessError, match="square"):
        rot90(images[..., :10])


def test_scale_brightness_and_five_crop_match_torchvision(registries, images):
    zoom = view("scale", registries, factor=0.5)(images)
    expected = TF.resize(TF.center_crop(images, [6, 6]), [12, 12], antialias=False)
    torch.testing.assert_close(zoom, expected)
    zoom = view("scale", registries, factor=0.75)(images)  # odd margin: torchvision's rounding of the offset
    torch.testing.assert_close(zoom, TF.resize(TF.center_crop(images, [9, 9]), [12, 12], antialias=False))
    assert torch.equal(view("scale", registries, factor=1.0)(images), images)
    bright = view("brightness", registries)(images)
    np.testing.assert_allclose(bright, np.minimum(images.numpy() * 1.1, 255.0), rtol=1e-6)
    crops = view("five_crop", registries, crop=0.75)(images)
    assert crops.shape == (35, 3, 12, 12)
    for i, crop in enumerate(TF.five_crop(images, [9, 9])):  # tl, tr, bl, br, centre
        torch.testing.assert_close(crops[7 * i:7 * (i + 1)], TF.resize(crop, [12, 12], antialias=False))


def test_merges_equal_closed_forms(registries):
    p = np.random.default_rng(0).dirichlet(np.ones(4), size=(3, 5))  # [V, N, K]
    merge = {name: resolve(name, "merge", registries) for name in ("mean", "gmean", "max", "tsharpen")}
    np.testing.assert_allclose(merge["mean"](p), p.mean(axis=0))
    g = scipy_gmean(p, axis=0)
    np.testing.assert_allclose(merge["gmean"](p), g / g.sum(axis=1, keepdims=True))
    m = p.max(axis=0)
    np.testing.assert_allclose(merge["max"](p), m / m.sum(axis=1, keepdims=True))
    s = (np.sqrt(p[0]) + np.sqrt(p[1]) + np.sqrt(p[2])) / 3
    np.testing.assert_allclose(merge["tsharpen"](p), s / s.sum(axis=1, keepdims=True))
    for fn in merge.values():
        np.testing.assert_allclose(fn(p).sum(axis=1), 1.0)


def test_resolve_tells_views_from_merges(registries):
    with pytest.raises(HarnessError, match="is a merge, not a view"):
        resolve("mean", "view", registries)
    with pytest.raises(HarnessError, match="Did you mean 'hflip'"):
        resolve("hflpi", "view", registries)


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.head = torch.nn.Linear(4 * 4, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.head(torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1))


def test_predict_views_batched_equals_one_forward_per_view(registries, images):
    torch.manual_seed(0)
    model = TinyNet().eval()
    normalize = Normalizer(torch.device("cpu"))
    names = ["identity", "hflip", "rot90", "scale", "five_crop"]
    uint8 = images.to(torch.uint8)
    batched = predict_views(model, uint8, names, normalize, batch_size=3, device=torch.device("cpu"),
                            registries=registries)
    assert batched.shape == (5, 7, 3)
    with torch.no_grad():
        for v, name in enumerate(names):
            out = view(name, registries)(uint8.float())
            probs = torch.softmax(model(normalize(out)), dim=1).view(-1, 7, 3).mean(dim=0)  # five crops averaged
            np.testing.assert_allclose(batched[v], probs.double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched.sum(axis=2), 1.0, atol=1e-6)  # float32 softmax


def test_tta_store_roundtrip(tmp_path):
    proba = np.random.default_rng(1).dirichlet(np.ones(3), size=(2, 4))
    save_tta(tmp_path, "test", ["identity", "hflip"], proba, ("a", "b", "c", "d"), seconds=1.5)
    stored = load_tta(tmp_path, "test")
    assert stored.views == ("identity", "hflip") and stored.sample_ids == ("a", "b", "c", "d")
    assert stored.seconds == 1.5
    np.testing.assert_array_equal(stored.select(["hflip"]), proba[1:])
    with pytest.raises(HarnessError, match="were not stored"):
        stored.select(["vflip"])
    with pytest.raises(HarnessError, match="no stored TTA"):
        load_tta(tmp_path, "val")


def test_check_tta_catches_kinds_and_search_needs(registries):
    from harness.tta import check_tta

    registry = registries["tta"]
    assert check_tta({"views": ["identity", "hflip"], "merge": ["mean", "tsharpen"], "search": True,
                      "splits": ["val", "test"]}, registry) == []
    found = check_tta({"views": ["hflip", "gmean"], "merge": "rot90", "search": True, "splits": ["test"]}, registry)
    assert found == [("views", "'gmean' is a TTA merge, not a view"), ("merge", "'rot90' is a TTA view, not a merge"),
                     ("views", 'the search starts from "identity": add it to views'),
                     ("splits", 'the search chooses views on validation: add "val" to splits')]
