"""Localisation metrics on hand-worked 4x4 maps and masks."""

from __future__ import annotations

import numpy as np
import pytest

from harness import PredictionSet
from harness.registry import Registry
from harness_gain import harness_register_metrics
from harness_gain.metrics import localization_metrics, minmax

MASK_A = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint8)
MASK_B = np.array([[1, 0, 0, 0]] * 4, dtype=np.uint8) * 255  # 0/255 masks count too
# A: min 0, max 8 -> the top-left block normalises to .5/.5/.5/.25, the peak sits outside
CAM_A = np.array([[4, 4, 0, 0], [4, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 8]], dtype=np.float32)
# B: 10 on the mask, 2 elsewhere -> normalised exactly to the mask
CAM_B = np.where(MASK_B > 0, 10.0, 2.0).astype(np.float32)
LOC_A = np.array([[0.9, 0.6, 0, 0], [0.4, 0.7, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0.8]], dtype=np.float32)
LOC_B = np.zeros((4, 4), dtype=np.float32)


def make_pred(maps: dict[str, np.ndarray] | None = None, masks: bool = True) -> PredictionSet:
    """Samples: normal, defect A, defect B, defect without a mask (ignored)."""
    noise = np.arange(16, dtype=np.float32).reshape(4, 4)
    default = {
        "cam": np.stack([noise, CAM_A, CAM_B, noise]),
        "localization": np.stack([noise / 16, LOC_A, LOC_B, noise / 16]),
    }
    return PredictionSet(
        classes=("normal", "defect"),
        sample_ids=("n", "a", "b", "c"),
        labels=np.array([0, 1, 1, 1]),
        proba=np.full((4, 2), 0.5),
        maps=default if maps is None else maps,
        masks=np.stack([np.zeros((4, 4), np.uint8), MASK_A, MASK_B, MASK_A]) if masks else None,
        has_mask=np.array([True, True, True, False]) if masks else None,
    )


def test_hand_computed_values():
    got = localization_metrics(make_pred())
    energy_a = (0.5 + 0.5 + 0.5 + 0.25) / (0.5 + 0.5 + 0.5 + 0.25 + 1.0)
    expected = {
        "cam_iou": (0.0 + 1.0) / 2,  # A: only the peak passes 0.5 -> 0/5
        "pointgame": (0.0 + 1.0) / 2,
        "energy_inside": (energy_a + 1.0) / 2,
        "loc_iou": (3 / 5 + 0.0) / 2,  # A: predicted {00, 01, 11, 33} vs {00, 01, 10, 11}
        "loc_dice": (2 * 3 / 8 + 0.0) / 2,
        "loc_pixel_acc": (14 / 16 + 12 / 16) / 2,
    }
    assert got == pytest.approx(expected)


def test_attention_keys_use_the_same_procedure():
    got = localization_metrics(make_pred({"attention": np.stack([CAM_B, CAM_B, CAM_A, CAM_B])}))
    # rows a, b get CAM_B, CAM_A: B's map against A's mask and vice versa
    # CAM_B on MASK_A: normalised = column 0 -> inter 2, union 6; peak (0, 0) inside; energy 2/4
    # CAM_A on MASK_B: peak (3, 3) outside; above 0.5 only the peak -> 0/5; energy (.5 + .5) / 2.75
    assert got == pytest.approx(
        {
            "attn_iou": (2 / 6 + 0.0) / 2,
            "attn_pointgame": (1.0 + 0.0) / 2,
            "attn_energy_inside": (2 / 4 + 1.0 / 2.75) / 2,
        }
    )


def test_minmax_constant_map_scores_zero():
    assert np.array_equal(minmax(np.full((1, 2, 2), 3.0)), np.zeros((1, 2, 2)))
    constant = np.full((4, 4, 4), 0.2, dtype=np.float32)
    got = localization_metrics(make_pred({"cam": constant}))
    assert got == {"cam_iou": 0.0, "pointgame": 0.0, "energy_inside": 0.0}


def test_maps_at_lower_resolution_than_masks():
    small = np.zeros((4, 2, 2), dtype=np.float32)
    small[:, 0, 0] = 1.0  # the top-left quarter: exactly MASK_A at 4x4
    got = localization_metrics(make_pred({"cam": small}))
    # the map is brought to 4x4: A matches exactly; B (left column) meets the block in 2 of 6
    # pixels, its peak (first of the block) is inside, half of the energy is inside
    assert got == pytest.approx({"cam_iou": (1.0 + 2 / 6) / 2, "pointgame": 1.0, "energy_inside": (1.0 + 0.5) / 2})


def test_every_nonzero_class_counts_as_defect():
    pred = make_pred()
    relabelled = PredictionSet(
        ("normal", "scratch", "stain"),
        pred.sample_ids,
        np.array([0, 2, 1, 2]),
        np.full((4, 3), 1 / 3),
        pred.maps,
        pred.masks,
        pred.has_mask,
    )
    assert localization_metrics(relabelled) == pytest.approx(localization_metrics(pred))


def test_absent_inputs_give_nothing():
    assert localization_metrics(make_pred(maps={})) == {}
    assert localization_metrics(make_pred(masks=False)) == {}
    pred = make_pred()
    no_defects = PredictionSet(
        pred.classes, pred.sample_ids, np.zeros(4, dtype=np.int64), pred.proba, pred.maps, pred.masks, pred.has_mask
    )
    assert localization_metrics(no_defects) == {}


def test_registered_as_metric_family():
    registry = Registry("metric")
    harness_register_metrics(registry=registry)
    assert registry.get("localization") is localization_metrics
