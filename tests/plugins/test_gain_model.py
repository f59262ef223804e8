"""GAIN-MTL model: shapes of every path, CAM, temperature, S6 fusion, gradients, options."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import harness_gain
from harness import Batch, HarnessError
from harness.registry import Registry
from harness_gain import build_gain_mtl
from harness_gain.model import fuse_attention
from harness_gain.options import check_options
from harness_gain.strategy import effective_lambdas, s6_alpha

TINY = {"backbone": "mobilenetv3_small_050", "fpn_channels": 8, "hidden": 8, "head_channels": 8}


def make_model(strategy: str = "S5", **options) -> nn.Module:
    torch.manual_seed(0)
    return build_gain_mtl(2, strategy=strategy, **{**TINY, **options})


def make_batch(training: bool = True, epoch: int = 80, num_epochs: int = 100, progress: float = 0.8) -> Batch:
    """Normal, masked defect, normal, defect without mask; 64 px."""
    gen = torch.Generator().manual_seed(1)
    masks = torch.zeros(4, 64, 64)
    masks[1, 8:24, 16:40] = 1
    masks[3, 40:60, 4:20] = 1
    return Batch(
        images=torch.randn(4, 3, 64, 64, generator=gen),
        labels=torch.tensor([0, 1, 0, 1]),
        masks=masks,
        has_mask=torch.tensor([True, True, True, False]),
        training=training,
        epoch=epoch,
        num_epochs=num_epochs,
        progress=progress,
    )


def test_output_shapes_of_every_path():
    model = make_model("S5").train()
    out = model.forward_batch(make_batch())
    # mobilenetv3 strides 2..32: last stage 2x2 at 64 px; FPN finest is stride 8 (8x8), x4 -> 32x32
    assert out["logits"].shape == (4, 2)
    for key in ("cls_logits", "attended_logits", "cf_logits"):
        assert out[key].shape == (4, 2), key
    for key in ("cam_logits", "gain_logits", "mined_logits", "attention_logits", "attention", "effective_attention"):
        assert out[key].shape == (4, 2, 2), key
    assert out["loc_logits"].shape == (4, 32, 32)
    assert {k: tuple(v.shape) for k, v in out["maps"].items()} == {
        "cam": (4, 2, 2),
        "attention": (4, 2, 2),
        "localization": (4, 32, 32),
    }
    for name, value in out["maps"].items():
        value = value.detach()
        assert float(value.min()) >= 0 and float(value.max()) <= 1, name
    torch.testing.assert_close(out["maps"]["localization"], torch.sigmoid(out["loc_logits"]))
    torch.testing.assert_close(out["maps"]["cam"], torch.sigmoid(out["cam_logits"]))


def test_counterfactual_path_runs_in_training_with_masks_only():
    model = make_model("S5").eval()
    assert "cf_logits" not in model.forward_batch(make_batch(training=False))
    assert "cf_logits" not in model(make_batch().images)
    assert "cf_logits" not in make_model("S4").train().forward_batch(make_batch())  # λ_cf = 0 in S4


def test_combined_attention_is_mean_of_gain_and_mining_logits():
    model = make_model("S3").eval()
    out = model(make_batch().images)
    torch.testing.assert_close(out["attention_logits"], (out["gain_logits"] + out["mined_logits"]) / 2)
    torch.testing.assert_close(out["attention"], torch.sigmoid(out["attention_logits"]))


@pytest.mark.parametrize(("strategy", "head"), [("S1", "cls_logits"), ("S2", "cls_logits"), ("S3", "attended_logits")])
def test_prediction_head_follows_strategy(strategy, head):
    out = make_model(strategy).eval()(make_batch().images)
    assert torch.equal(out["logits"], out[head])


def test_temperature_is_a_learnable_parameter_that_scales_attention():
    model = make_model("S3").eval()
    assert isinstance(model.temperature, nn.Parameter) and model.temperature.requires_grad
    images = make_batch().images
    before = model(images)["gain_logits"]
    with torch.no_grad():
        model.temperature.fill_(2.0)
    torch.testing.assert_close(model(images)["gain_logits"], before / 2)
    model.train()
    batch = make_batch(epoch=30)  # stage 2: attention losses active
    total, _ = model.compute_loss(model.forward_batch(batch), batch)
    total.backward()
    assert model.temperature.grad is not None and float(model.temperature.grad.abs()) > 0


def test_cam_equals_weighted_channel_sum_of_last_stage():
    model = make_model("S2").eval()
    images = make_batch().images
    out = model(images)
    feats = model.backbone(images)[-1]  # [B, C, h, w]
    head = model.cls_head
    weights = head.fc2.weight[1] @ head.fc1.weight  # composed linear map, [C]
    expected = sum(weights[c] * feats[:, c] for c in range(feats.shape[1]))
    torch.testing.assert_close(out["cam_logits"], expected, rtol=1e-4, atol=1e-5)
    # with every hidden unit active the CAM decomposes the defect logit spatially
    with torch.no_grad():
        head.fc1.bias.fill_(1e3)
    out = model(images)
    logit = out["cam_logits"].mean((1, 2)) + head.fc2.weight[1] @ head.fc1.bias + head.fc2.bias[1]
    torch.testing.assert_close(out["cls_logits"][:, 1], logit, rtol=1e-4, atol=1e-3)


def test_more_classes_treat_every_nonzero_class_as_defect():
    torch.manual_seed(0)
    model = build_gain_mtl(3, strategy="S5", **TINY).train()
    batch = make_batch()
    batch.labels = torch.tensor([0, 2, 0, 1])
    out = model.forward_batch(batch)
    assert out["logits"].shape == (4, 3) and out["cf_logits"].shape == (4, 3)
    head = model.cls_head
    feats = model.backbone(batch.images)[-1].detach()
    chosen = out["cls_logits"].detach()[:, 1:].argmax(1) + 1  # most likely defect class
    weights = (head.fc2.weight @ head.fc1.weight)[chosen]  # [B, C]
    expected = (weights[:, :, None, None] * feats).sum(1)
    torch.testing.assert_close(out["cam_logits"].detach(), expected, rtol=1e-4, atol=1e-5)
    total, parts = model.compute_loss(out, batch)
    assert parts["cam_guide"] > 0  # the label-2 sample is a masked defect
    total.backward()


def test_fuse_attention_hand_example():
    internal = torch.tensor([[[0.2, 0.4], [0.6, 0.8]], [[0.1, 0.2], [0.3, 0.4]]])
    mask = torch.tensor([[[1.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]])
    out = fuse_attention(internal, mask, torch.tensor([True, False]), alpha=0.5)
    # fused = [[.2, .4], [0, 0]], max .4 -> norm [[.5, 1], [0, 0]]; .5 * mask + .5 * norm
    torch.testing.assert_close(out[0], torch.tensor([[0.75, 1.0], [0.0, 0.0]]))
    torch.testing.assert_close(out[1], internal[1])  # not selected: internal attention


def test_s6_training_fusion_normalised_per_masked_defect():
    model = make_model("S6").train()
    out = model.forward_batch(make_batch(progress=1.0))  # α = 0: pure normalised fusion
    eff, internal = out["effective_attention"].detach(), out["attention"].detach()
    small = nn.functional.adaptive_avg_pool2d(make_batch().masks[1][None, None], (2, 2))[0, 0]
    fused = small * internal[1]
    torch.testing.assert_close(eff[1], fused / fused.max())
    assert float(eff[1].max()) == pytest.approx(1.0, abs=1e-6)
    for i in (0, 2, 3):  # normals and the defect without a mask keep the internal attention
        assert torch.equal(eff[i], internal[i])
    half = model.forward_batch(make_batch(progress=0.5))  # α = 0.25
    fused = small * half["attention"][1].detach()
    torch.testing.assert_close(half["effective_attention"][1].detach(), 0.25 * small + 0.75 * fused / fused.max())


def test_s6_inference_uses_external_masks_only_when_asked():
    batch = make_batch(training=False)
    with torch.no_grad():
        plain = make_model("S6").eval().forward_batch(batch)
        fused = make_model("S6", inference_mask=True).eval().forward_batch(batch)
    assert torch.equal(plain["effective_attention"], plain["attention"])
    assert torch.equal(fused["effective_attention"][0], torch.zeros(2, 2))  # normal, empty mask
    assert float(fused["effective_attention"][1].max()) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(fused["effective_attention"][3], fused["attention"][3])  # no mask


def test_s6_alpha_curriculum():
    assert [s6_alpha(p) for p in (0.0, 0.25, 0.5, 1.0, 1.5)] == [0.5, 0.375, 0.25, 0.0, 0.0]


@pytest.mark.parametrize("strategy", ["S5", "S6"])
def test_compute_loss_backward_reaches_every_path(strategy):
    model = make_model(strategy).train()
    batch = make_batch(epoch=80)
    total, parts = model.compute_loss(model.forward_batch(batch), batch)
    assert set(parts) == {"cls", "am", "cam_guide", "loc", "guide", "cf", "consist"}
    lambdas = effective_lambdas(strategy, 80, 100)
    assert float(total.detach()) == pytest.approx(sum(lambdas[k] * v for k, v in parts.items()), rel=1e-5)
    total.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or float(p.grad.abs().sum()) == 0]
    assert silent == []


def test_stage_one_trains_only_the_classification_path():
    model = make_model("S5").train()
    batch = make_batch(epoch=0, progress=0.0)
    total, parts = model.compute_loss(model.forward_batch(batch), batch)
    assert list(parts) == ["cls"]
    total.backward()
    grads = {n: p.grad is not None and float(p.grad.abs().sum()) > 0 for n, p in model.named_parameters()}
    assert grads["cls_head.fc1.weight"] and grads["backbone.conv_stem.weight"]
    for prefix in (
        "temperature",
        "attention.",
        "mining.",
        "attended_head.",
        "localization.",
        "fpn.",
        "counterfactual.",
    ):
        assert not any(v for n, v in grads.items() if n.startswith(prefix)), prefix


def test_freeze_stages_stops_gradients_and_batchnorm_updates():
    model = make_model("S1", freeze_stages=2)  # mobilenetv3 stages: 'bn1' (stem), 'blocks.0'
    frozen = {n for n, p in model.backbone.named_parameters() if not p.requires_grad}
    assert frozen == {
        n for n, _ in model.backbone.named_parameters() if n.startswith(("conv_stem.", "bn1.", "blocks.0."))
    }
    model.train()
    assert not model.backbone.bn1.training and model.backbone.blocks[1][0].bn1.training


def test_check_options_reports_problems_with_suggestions():
    assert check_options({"backbone": "efficientnet_b0", "strategy": "S6", "inference_mask": True}) == []
    problems = dict(
        check_options({"strategi": "S1", "strategy": "s3", "hidden": 0, "dropout": 1.0, "freeze_stages": -1})
    )
    assert "Did you mean 'strategy'?" in problems["strategi"]
    assert "Did you mean 'S3'?" in problems["strategy"]
    assert set(problems) == {"strategi", "strategy", "hidden", "dropout", "freeze_stages"}
    assert check_options({"inference_mask": "yes"})[0][0] == "inference_mask"


def test_factory_rejects_bad_input():
    with pytest.raises(HarnessError, match="strategy"):
        build_gain_mtl(2, strategy="S7")
    with pytest.raises(HarnessError, match="num_classes=1"):
        build_gain_mtl(1, **TINY)
    with pytest.raises(HarnessError, match="backbone"):
        build_gain_mtl(2, backbone="no_such_net_xyz")


def test_registration_and_no_torch_at_import():
    models, metrics = Registry("model"), Registry("metric")
    harness_gain.harness_register_models(registry=models)
    harness_gain.harness_register_metrics(registry=metrics)
    assert models.get("gain-mtl") is build_gain_mtl and models.entry("gain-mtl").check is check_options
    assert "localization" in metrics
    code = "import sys, harness_gain; harness_gain.check_options({'strategy': 'S1'}); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_epoch_position_uses_progress_within_the_epoch():
    from harness_gain.model import epoch_position

    assert epoch_position(make_batch(epoch=55, progress=0.555)) == pytest.approx(55.5)
    assert epoch_position(make_batch(epoch=3, progress=0.0)) == 3  # progress not set: start of epoch
    end = epoch_position(make_batch(epoch=24, progress=0.25))  # last step of epoch 24 of 100
    assert 24 < end < 25
    model = make_model("S4").train()
    batch = make_batch(epoch=55, progress=0.555)
    total, parts = model.compute_loss(model.forward_batch(batch), batch)
    lambdas = effective_lambdas("S4", 55.5, 100)
    assert lambdas["loc"] == pytest.approx(0.2 * 0.44)  # warm-up at 44%
    assert float(total.detach()) == pytest.approx(sum(lambdas[k] * v for k, v in parts.items()), rel=1e-5)
