"""harness.Preprocessing: the record in config.json, normalisation and the evaluation crop."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import Normalize

import harness
from harness import HarnessError
from harness.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, resolve_preprocessing, with_preprocessing
from harness.registry import Registry

LITE0_LIKE = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic", "crop_pct": 0.875,
              "input_size": [3, 32, 32]}


def test_public_and_round_trips_through_the_config_record():
    assert harness.Preprocessing is Preprocessing
    prep = Preprocessing.from_config({"preprocessing": LITE0_LIKE, "seed": 0})
    assert prep.mean == (0.5, 0.5, 0.5) and prep.input_size == (3, 32, 32) and prep.crop_pct == 0.875
    assert prep.to_dict() == LITE0_LIKE
    assert Preprocessing.from_config(prep.to_dict()) == prep  # the record itself is accepted too


def test_a_cell_written_before_the_record_means_imagenet_bilinear_no_crop():
    prep = Preprocessing.from_config({"model": {"plugin": "timm"}, "seed": 0})
    assert (prep.mean, prep.std, prep.interpolation, prep.crop_pct) == (IMAGENET_MEAN, IMAGENET_STD, "bilinear", 1.0)


def test_normalize_matches_torchvision_for_uint8_and_unit_floats():
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    for record in (LITE0_LIKE, {}):
        prep = Preprocessing.from_config(record)
        expected = Normalize(prep.mean, prep.std)(images.float() / 255)
        torch.testing.assert_close(prep.normalize(images), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(prep.normalize(images.float() / 255), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(prep.normalize(images.float(), max_value=255.0), expected, rtol=1e-5, atol=1e-5)
    white = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    assert torch.allclose(Preprocessing.from_config(LITE0_LIKE).normalize(white), torch.ones(1, 3, 2, 2))


def test_eval_crop_is_torchvision_centre_crop_then_resize_and_masks_follow():
    prep = Preprocessing(crop_pct=0.75, interpolation="bilinear")
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    masks = torch.zeros(2, 16, 16, dtype=torch.uint8)
    masks[:, 0:2, :] = 1  # a defect on the top border: cropped away
    masks[:, 6:10, 6:10] = 1  # a central one: kept, and magnified by 16 / 12
    cropped, cropped_masks = prep.eval_crop(images, masks)
    reference = TF.resize(TF.center_crop(images.float(), [12, 12]), [16, 16], antialias=False)
    assert (cropped.float() - reference.round().clamp(0, 255)).abs().max() <= 1
    assert cropped.dtype == torch.uint8 and cropped_masks.dtype == torch.uint8
    assert cropped_masks[:, :2].sum() == 0
    assert cropped_masks[0].sum() == pytest.approx(16 * (16 / 12) ** 2, abs=8)
    whole = Preprocessing()
    assert whole.eval_crop(images, masks)[0] is images  # crop_pct 1: nothing copied


@pytest.mark.parametrize("record,match", [
    ({"std": [0.5, 0.0, 0.5]}, "positive"),
    ({"mean": [0.5, 0.5]}, "three numbers"),
    ({"interpolation": "cubic-ish"}, "is not one of"),
    ({"crop_pct": 1.5}, r"\(0, 1\]"),
    ({"error": "model plugin 'x' broke"}, "could not be resolved: model plugin 'x' broke"),
])
def test_bad_records_are_clear_errors(record, match):
    with pytest.raises(HarnessError, match=match):
        Preprocessing.from_config({"preprocessing": record})


def test_resolution_uses_the_plugin_declaration_and_records_the_input_size():
    models = Registry("model")
    models.register("declares", object, preprocessing=lambda options: Preprocessing(mean=options["m"], std=0.25))
    models.register("silent", object)
    models.register("broken", object, preprocessing=lambda options: {"mean": 0.5})
    prep = resolve_preprocessing({"plugin": "declares", "m": 0.1}, models, (24, 32))
    assert prep.mean == (0.1, 0.1, 0.1) and prep.std == (0.25,) * 3 and prep.input_size == (3, 24, 32)
    assert resolve_preprocessing({"plugin": "silent"}, models) == Preprocessing()
    config = with_preprocessing({"model": {"plugin": "broken"}, "seed": 0}, models)
    assert "not harness.Preprocessing" in config["preprocessing"]["error"]
    assert config["seed"] == 0
