"""The ``cats`` model: a hybrid that encodes image patches with a shared CNN and classifies
them with CATS-style cross-attention of learnable queries over the patch sequence.

Registering the plugin imports neither torch nor timm; both load when a model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import hookimpl
from harness_cats.options import DEFAULTS, check, parse_extractor, resolve

if TYPE_CHECKING:
    from harness import Preprocessing, Registry
    from harness_cats.model import CatsModel

__all__ = ["DEFAULTS", "check", "factory", "harness_register_models", "preprocessing"]


def factory(num_classes: int, **options: Any) -> CatsModel:
    """Build a CATS model (see :func:`harness_cats.model.build_cats`).

    Args:
        num_classes: number of output classes.
        **options: the experiment's model options; see ``harness_cats.options.DEFAULTS``.

    Returns:
        An ``nn.Module`` whose forward returns ``{"logits", "maps": {"attention"}}``.
    """
    from harness_cats.model import build_cats

    return build_cats(num_classes, **options)


def preprocessing(options: dict[str, Any]) -> Preprocessing:
    """The patch CNN's preprocessing (its timm pretrained config), ``crop_pct`` as given."""
    from harness_timm import timm_preprocessing

    merged = resolve(options)
    extractor = parse_extractor(merged["cnn_feature_extractor"])
    return timm_preprocessing(extractor.arch if extractor else "", merged["crop_pct"])


@hookimpl
def harness_register_models(registry: Registry) -> None:
    """Register the ``cats`` model."""
    registry.register(
        "cats",
        factory,
        description="CATS hybrid: shared CNN on image patches + cross-attention of learnable queries",
        check=check,
        example={"img_size": 32, "patch_size": 16},
        preprocessing=preprocessing,
    )
