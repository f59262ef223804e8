"""GAIN-MTL losses on hand-made tensors, and the λ table / stage schedule / warm-up."""

from __future__ import annotations

import math

import pytest
import torch

from harness import Batch
from harness_gain.losses import (
    cam_guidance_loss,
    consistency_loss,
    counterfactual_loss,
    dice_loss,
    entropy_loss,
    focal_loss,
    gain_losses,
    guided_attention_loss,
    iou_loss,
    localization_loss,
    resize_mask,
)
from harness_gain.strategy import LOSSES, active_losses, effective_lambdas, stage_at

STAGE2_S3 = {"cls": 0.3, "am": 1.0, "cam_guide": 1.0, "guide": 0.5}
# (strategy, epoch of 100, non-zero λs), written from the method's table and schedule
SCHEDULE = [
    ("S1", 0, {"cls": 1.0}),
    ("S2", 0, {"cls": 1.0}),
    ("S3", 0, {"cls": 0.3}),
    ("S6", 0, {"cls": 0.3}),
    ("S1", 30, {"cls": 1.0}),
    ("S2", 30, {"cls": 1.0, "cam_guide": 0.3}),
    ("S3", 30, STAGE2_S3),
    ("S4", 30, STAGE2_S3),
    ("S5", 30, STAGE2_S3),
    ("S6", 30, STAGE2_S3),
    ("S2", 55, {"cls": 1.0, "cam_guide": 0.3}),
    ("S3", 55, STAGE2_S3),
    ("S4", 50, {**STAGE2_S3, "consist": 0.2}),  # stage 3 starts: λ_loc warm-up at 0
    ("S4", 55, {**STAGE2_S3, "loc": 0.08, "consist": 0.2}),  # 40% of the warm-up
    ("S5", 55, {**STAGE2_S3, "loc": 0.08, "consist": 0.2}),
    ("S6", 60, {**STAGE2_S3, "loc": 0.16, "consist": 0.2}),  # 80%
    ("S5", 62.5, {**STAGE2_S3, "loc": 0.2, "consist": 0.2}),  # fractional epoch: warm-up done
    ("S5", 70, {**STAGE2_S3, "loc": 0.2, "consist": 0.2}),
    ("S3", 80, STAGE2_S3),
    ("S4", 80, {**STAGE2_S3, "loc": 0.2, "consist": 0.2}),
    ("S5", 80, {**STAGE2_S3, "loc": 0.2, "consist": 0.2, "cf": 0.3}),
    ("S6", 80, {**STAGE2_S3, "loc": 0.2, "consist": 0.2, "cf": 0.3}),
    ("S1", 99, {"cls": 1.0}),
    ("S2", 99, {"cls": 1.0, "cam_guide": 0.3}),
]


@pytest.mark.parametrize(("strategy", "epoch", "nonzero"), SCHEDULE)
def test_effective_lambdas_match_table_and_schedule(strategy, epoch, nonzero):
    expected = {name: nonzero.get(name, 0.0) for name in LOSSES}
    got = effective_lambdas(strategy, epoch, 100)
    assert got == pytest.approx(expected, abs=1e-12)


def test_stage_boundaries_are_quarters():
    assert [stage_at(e, 100) for e in (0, 24, 25, 49, 50, 74, 75, 99)] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [stage_at(e, 4) for e in range(4)] == [1, 2, 3, 4]
    assert [stage_at(e, 10) for e in range(10)] == [1, 1, 1, 2, 2, 3, 3, 3, 4, 4]
    assert stage_at(2.4, 10) == 1 and stage_at(2.5, 10) == 2  # fractional epochs


def test_loss_active_at_zero_warmup_weight_is_still_listed():
    assert active_losses("S4", 50, 100) == ("cls", "am", "cam_guide", "loc", "guide", "consist")
    assert active_losses("S5", 74, 100) == ("cls", "am", "cam_guide", "loc", "guide", "consist")
    assert active_losses("S5", 75, 100)[-2:] == ("cf", "consist")


def test_resize_mask_averages_areas():
    mask = torch.tensor([[[1.0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]])
    torch.testing.assert_close(resize_mask(mask, (2, 2)), torch.tensor([[[0.75, 0.0], [0.0, 1.0]]]))


def test_focal_loss_hand_value_and_ce_limit():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p(class 1) = 3/4
    ce = -math.log(0.75)
    assert float(focal_loss(logits, torch.tensor([1]), gamma=2.0)) == pytest.approx(0.25**2 * ce)
    assert float(focal_loss(logits, torch.tensor([0]), gamma=0.0)) == pytest.approx(math.log(4.0))


def test_dice_and_iou_on_hand_cases():
    target = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    hard = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    soft = torch.full((1, 2, 2), 0.5)
    assert float(dice_loss(hard, target)) == pytest.approx(1 - 2 / 3, abs=1e-6)  # 2·1 / (1 + 2)
    assert float(iou_loss(hard, target)) == pytest.approx(0.5, abs=1e-6)  # 1 / 2
    assert float(dice_loss(soft, target)) == pytest.approx(1 - 2 / 4, abs=1e-6)  # 2·1 / (2 + 2)
    assert float(iou_loss(soft, target)) == pytest.approx(1 - 1 / 3, abs=1e-6)  # 1 / (2 + 2 - 1)
    assert float(dice_loss(target, target)) == pytest.approx(0.0, abs=1e-6)


def test_entropy_loss_on_hand_cases():
    maps = torch.tensor(
        [
            [[0.3, 0.3], [0.3, 0.3]],  # uniform: maximal entropy
            [[0.9, 0.0], [0.0, 0.0]],  # single peak
            [[0.5, 0.5], [0.0, 0.0]],  # two of four: log 2 / log 4
        ]
    )
    torch.testing.assert_close(entropy_loss(maps), torch.tensor([0.0, 1.0, 0.5]))


ONE_PIXEL = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
ZERO_LOGITS = torch.zeros(1, 2, 2)
# sigmoid(0) = 0.5 everywhere against one defect pixel
BCE = math.log(2.0)
DICE = 1 - 2 * 0.5 / (2.0 + 1.0)
IOU = 1 - 0.5 / (2.0 + 1.0 - 0.5)


def test_cam_guidance_and_localization_losses():
    assert float(cam_guidance_loss(ZERO_LOGITS, ONE_PIXEL)) == pytest.approx(BCE + DICE, abs=1e-5)
    assert float(localization_loss(ZERO_LOGITS, ONE_PIXEL)) == pytest.approx(BCE + DICE, abs=1e-5)


def test_guided_attention_loss_adds_entropy_on_normals():
    peak = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    value = guided_attention_loss(ZERO_LOGITS, ONE_PIXEL, peak)
    assert float(value) == pytest.approx(BCE + DICE + IOU + 1.0, abs=1e-5)
    only_normals = guided_attention_loss(ZERO_LOGITS[:0], ONE_PIXEL[:0], torch.full((2, 2, 2), 0.7))
    assert float(only_normals) == pytest.approx(0.0, abs=1e-6)


def test_counterfactual_and_consistency_losses():
    assert float(counterfactual_loss(torch.tensor([[0.0, math.log(3.0)]]))) == pytest.approx(math.log(4.0))
    attention = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    loc = torch.full((1, 4, 4), 0.5)
    assert float(consistency_loss(attention, loc)) == pytest.approx(0.25)  # (0.5² · 4) / 4


def _outputs() -> dict[str, torch.Tensor]:
    """Outputs for [normal, masked defect, defect without mask], all logits zero."""
    zeros2 = torch.zeros(3, 2, 2)
    return {
        "cls_logits": torch.tensor([[0.0, math.log(3.0)]] * 3),
        "attended_logits": torch.zeros(3, 2),
        "cam_logits": zeros2,
        "attention_logits": zeros2,
        "attention": torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]], [[0.5, 0.5], [0.5, 0.5]]]),
        "loc_logits": torch.zeros(3, 4, 4),
        "cf_logits": torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)], [5.0, 0.0]]),
    }


def _batch(with_masks: bool = True) -> Batch:
    masks = torch.zeros(3, 4, 4)
    masks[1, :2, :2] = 1  # one defect cell at 2x2, four pixels at 4x4
    masks[2] = 1
    return Batch(
        images=torch.zeros(3, 3, 4, 4),
        labels=torch.tensor([0, 1, 1]),
        masks=masks if with_masks else None,
        has_mask=torch.tensor([True, True, False]) if with_masks else None,
    )


def test_gain_losses_select_samples_per_loss():
    parts = gain_losses(_outputs(), _batch(), LOSSES, gamma=0.0)
    assert float(parts["cls"]) == pytest.approx((math.log(4.0) + 2 * -math.log(0.75)) / 3)
    assert float(parts["am"]) == pytest.approx(math.log(2.0))
    # only the masked defect (index 1): one of four cells at 2x2
    assert float(parts["cam_guide"]) == pytest.approx(BCE + DICE, abs=1e-5)
    loc_dice = 1 - 2 * 0.5 * 4 / (8.0 + 4.0)  # 4x4: four defect pixels, 0.5 everywhere
    assert float(parts["loc"]) == pytest.approx(BCE + loc_dice, abs=1e-5)
    # masked defect terms + entropy of the normal's single-peak attention
    assert float(parts["guide"]) == pytest.approx(BCE + DICE + IOU + 1.0, abs=1e-5)
    assert float(parts["cf"]) == pytest.approx(math.log(4.0))
    # both defects, attention vs sigmoid(0) = 0.5: (0.25·4 + 0·4) / 8
    assert float(parts["consist"]) == pytest.approx(0.125)


def test_gain_losses_without_masks():
    outputs = _outputs()
    del outputs["cf_logits"]  # evaluation: no counterfactual path
    parts = gain_losses(outputs, _batch(with_masks=False), LOSSES, gamma=2.0)
    assert "cf" not in parts
    assert float(parts["cam_guide"]) == 0.0 and float(parts["loc"]) == 0.0
    assert float(parts["guide"]) == pytest.approx(1.0)  # the normal's entropy term alone
    subset = gain_losses(_outputs(), _batch(), ("cls",), gamma=2.0)
    assert list(subset) == ["cls"]


def test_entropy_gradient_is_finite_at_zero_attention():
    attention = torch.tensor([[[0.5, 0.0], [0.0, 0.0]]], requires_grad=True)
    entropy_loss(attention).sum().backward()
    assert torch.isfinite(attention.grad).all()
    assert float(attention.grad[0, 0, 1]) < 0  # raising an empty pixel spreads the attention
