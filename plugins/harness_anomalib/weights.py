"""Pretrained backbones for anomalib without a network.

anomalib builds its feature extractors with ``timm.create_model(backbone, pretrained=...)``.
:func:`offline_backbone` serves that call from local weights: timm's registered
pretrained configuration of the backbone gets the state dict for the duration of the
build (timm loads a ``state_dict`` before looking at any hub or URL). The weights are
the offline ImageNet Lite0 weights for ``tf_efficientnet_lite0``, or a local file given
as ``weights = "path"`` (safetensors, or a torch file read with ``weights_only=True``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import HarnessError

LITE0 = "tf_efficientnet_lite0"


def read_weights(path: str | Path) -> dict[str, Any]:
    """A state dict from safetensors or a weights-only torch file; never unpickles objects."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise HarnessError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise HarnessError(f"{path}: not a safetensors file or a weights-only torch state dict ({exc})") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise HarnessError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return state


def backbone_state(backbone: str, pretrained: bool, weights: str | None) -> dict[str, Any] | None:
    """The local state dict for ``backbone``: ``weights``, else the offline Lite0 weights, else None."""
    if weights:
        return read_weights(weights)
    if backbone == LITE0:
        # also without pretrained = true: a model that always starts a teacher from ImageNet
        # weights (STFPM) gets them offline; the others are built with pre_trained = False
        from harness_timm.lite0 import lite0_state_dict

        try:
            return lite0_state_dict(include_classifier=True)
        except HarnessError:
            if pretrained:
                raise
    return None  # timm goes to the hub: with no network that fails, and the cell says what it needed


@contextlib.contextmanager
def offline_backbone(backbone: str, state: dict[str, Any] | None) -> Iterator[None]:
    """While building, ``timm.create_model(backbone, pretrained=True)`` loads ``state``."""
    if state is None:
        yield
        return
    from timm.models import _registry

    names = [n for n in _registry._model_pretrained_cfgs if n == backbone or n.startswith(f"{backbone}.")]
    if not names:
        raise HarnessError(f"timm knows no pretrained configuration for backbone {backbone!r}")
    saved = {n: _registry._model_pretrained_cfgs[n].state_dict for n in names}
    try:
        for n in names:
            _registry._model_pretrained_cfgs[n].state_dict = state
        yield
    finally:
        for n, value in saved.items():
            _registry._model_pretrained_cfgs[n].state_dict = value
