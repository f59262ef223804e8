"""What a timm architecture expects of its input: its pretrained config's mean, std, resize and crop.

Read from timm's ``pretrained_cfg`` of the architecture through
``timm.data.resolve_data_config``, which is what ``resolve_model_data_config`` gives for
a built model, so a cell is planned without building anything (and, once asked, without
importing timm: :mod:`harness_timm.facts`). The values hold whether
or not the pretrained weights are loaded: they describe the architecture's recipe.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness import Preprocessing

CROP_OPTION = "crop_pct"
"""The model option that overrides the architecture's evaluation crop (1.0 keeps whole images)."""


def timm_preprocessing(arch: str, crop_pct: float | None = None) -> Preprocessing:
    """The preprocessing of timm architecture ``arch`` (ImageNet defaults if timm has no config for it).

    Args:
        arch: a timm architecture name, with or without a pretrained tag
            (``"resnet50.a1_in1k"``).
        crop_pct: overrides the configured evaluation crop when given.
    """
    from harness_timm.facts import arch_facts

    config = arch_facts(arch)["data_config"] if isinstance(arch, str) else None
    prep = Preprocessing.from_timm(config) if config else Preprocessing()
    return replace(prep, crop_pct=float(crop_pct)) if crop_pct is not None else prep


def declare(default_arch: str | None = None, arch_key: str = "arch"):
    """A ``preprocessing(options)`` declaration for a model plugin whose ``arch_key`` names a timm architecture."""

    def preprocessing(options: dict[str, Any]) -> Preprocessing:
        return timm_preprocessing(options.get(arch_key, default_arch), options.get(CROP_OPTION))

    return preprocessing
