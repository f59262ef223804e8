"""Model-side preprocessing declarations, and pretrained / local starting weights for CATS and GAIN-MTL."""

from __future__ import annotations

import warnings

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.data import resolve_model_data_config

import harness_cats
import harness_gain
from harness import HarnessError, Preprocessing
from harness.preprocess import resolve_preprocessing
from harness_timm import lite0_state_dict, timm_preprocessing
from harness_timm.weights import PartialWeightsWarning

LITE0 = "tf_efficientnet_lite0"
TINY_GAIN = {"fpn_channels": 8, "hidden": 16, "head_channels": 8, "strategy": "S3"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("arch", [LITE0, "resnet10t", "test_resnet", "convnext_atto", "efficientnet_b0"])
def test_timm_declaration_is_what_timm_resolves_for_the_built_model(arch, plugins):
    resolved = resolve_model_data_config(timm.create_model(arch, pretrained=False, num_classes=2))
    declared = resolve_preprocessing({"plugin": "timm", "arch": arch}, plugins.registry("models"), (32, 32))
    assert declared.mean == pytest.approx(resolved["mean"]) and declared.std == pytest.approx(resolved["std"])
    assert (declared.interpolation, declared.crop_pct) == (resolved["interpolation"], resolved["crop_pct"])
    assert declared.input_size == (3, 32, 32)


def test_lite0_is_half_and_imagenet_models_are_not(plugins):
    models = plugins.registry("models")
    assert resolve_preprocessing({"plugin": "timm", "arch": LITE0}, models).mean == (0.5, 0.5, 0.5)
    assert resolve_preprocessing({"plugin": "timm", "arch": "resnet10t"}, models).mean == (0.485, 0.456, 0.406)
    assert resolve_preprocessing({"plugin": "timm", "arch": LITE0, "crop_pct": 1.0}, models).crop_pct == 1.0
    assert resolve_preprocessing({"plugin": "convnext-attention"}, models) == timm_preprocessing("convnext_atto")
    # CATS and GAIN-MTL declare their backbone's
    cats = resolve_preprocessing({"plugin": "cats", "cnn_feature_extractor": f"{LITE0}_feat2"}, models)
    assert cats == timm_preprocessing(LITE0)
    gain = resolve_preprocessing({"plugin": "gain-mtl", "backbone": LITE0, "crop_pct": 0.9}, models)
    assert gain.std == (0.5, 0.5, 0.5) and gain.crop_pct == 0.9
    assert resolve_preprocessing({"plugin": "gain-mtl"}, models) == timm_preprocessing("tf_efficientnetv2_s")
    assert timm_preprocessing("no_such_arch_xyz") == Preprocessing()


def _assert_loaded(module: torch.nn.Module, state: dict[str, torch.Tensor], prefix: str = "") -> int:
    own = module.state_dict()
    shared = [k for k in state if prefix + k in own]
    assert shared, "no tensor in common"
    for key in shared:
        torch.testing.assert_close(own[prefix + key], state[key], rtol=0, atol=0)
    return len(shared)


def test_cats_pretrained_patch_cnn_holds_the_lite0_imagenet_weights():
    options = {"cnn_feature_extractor": f"{LITE0}_feat2", "featured_patch_dim": 24, "img_size": 32}
    assert harness_cats.check({**options, "pretrained": True}) == []
    model = harness_cats.factory(2, **options, pretrained=True)
    loaded = _assert_loaded(model.encoder.cnn, lite0_state_dict(), prefix="model.")
    assert loaded == len(model.encoder.cnn.state_dict())  # every tensor of the cut CNN came from the file
    scratch = harness_cats.factory(2, **options)
    assert not torch.equal(scratch.encoder.cnn.state_dict()["model.conv_stem.weight"],
                           model.encoder.cnn.state_dict()["model.conv_stem.weight"])


def test_gain_pretrained_backbone_holds_the_lite0_imagenet_weights():
    assert harness_gain.check_options({"backbone": LITE0, "pretrained": True}) == []
    model = harness_gain.build_gain_mtl(2, backbone=LITE0, pretrained=True, **TINY_GAIN)
    assert _assert_loaded(model.backbone, lite0_state_dict()) == len(model.backbone.state_dict())
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 3, 32, 32))
    assert out["logits"].shape == (1, 2)


def test_weights_path_loads_any_other_backbone(tmp_path):
    source = timm.create_model("resnet10t", pretrained=False, num_classes=7)
    path = tmp_path / "resnet10t.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PartialWeightsWarning)  # every backbone tensor is in the file
        gain = harness_gain.build_gain_mtl(2, backbone="resnet10t", weights=str(path), **TINY_GAIN)
        cats = harness_cats.factory(2, cnn_feature_extractor="resnet10t_feat2", featured_patch_dim=64,
                                    weights=str(path))
    state = source.state_dict()
    assert _assert_loaded(gain.backbone, state) == len(gain.backbone.state_dict())
    assert _assert_loaded(cats.encoder.cnn, state, prefix="model.") == len(cats.encoder.cnn.state_dict())


def test_a_file_that_fits_nothing_is_an_error(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"unrelated.weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(HarnessError, match="none of the 1 tensors"):
        harness_gain.build_gain_mtl(2, backbone="resnet10t", weights=str(path), **TINY_GAIN)


@pytest.mark.parametrize("check,options,key", [
    (harness_cats.check, {"pretrained": True}, "pretrained"),
    (harness_gain.check_options, {"pretrained": True, "backbone": "resnet10t"}, "pretrained"),
    (harness_cats.check, {"pretrained": True, "cnn_feature_extractor": f"{LITE0}_feat2", "weights": __file__},
     "weights"),
    (harness_gain.check_options, {"weights": "no/such/file.safetensors"}, "weights"),
    (harness_cats.check, {"crop_pct": 0}, "crop_pct"),
    (harness_gain.check_options, {"pretrained": "yes"}, "pretrained"),
])
def test_options_that_would_need_the_hub_or_are_wrong_are_reported(check, options, key):
    problems = dict(check(options))
    assert list(problems) == [key]
    if options.get("pretrained") is True and key == "pretrained":
        assert "model hub" in problems[key] and 'weights = "path' in problems[key] and LITE0 in problems[key]


def test_building_with_a_hub_only_pretrained_backbone_fails_clearly():
    with pytest.raises(HarnessError, match="would need the model hub"):
        harness_gain.build_gain_mtl(2, backbone="resnet10t", pretrained=True, **TINY_GAIN)
    with pytest.raises(HarnessError, match="would need the model hub"):
        harness_cats.factory(2, pretrained=True)
