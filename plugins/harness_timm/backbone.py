"""Starting weights for a timm backbone inside another model (the CATS patch CNN, GAIN-MTL).

``pretrained = true`` loads the offline ImageNet weights of ``tf_efficientnet_lite0``
(:mod:`harness_timm.lite0`); any other architecture would need the model hub, which a
plugin here never asks, so it fails with a message pointing at ``weights = "path"``.
``weights`` reads a local safetensors file or plain state dict (never unpickled) and
loads every tensor that fits by name and shape. A backbone wrapped by timm
(``features_only``, a cut ``feature_cls="getter"`` network under ``model.``) is matched
under whatever prefix its keys carry.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from harness import HarnessError
from harness_timm.lite0 import LITE0_ARCH, LITE0_PACKAGE, lite0_state_dict
from harness_timm.weights import LoadReport, PartialWeightsWarning, load_state, read_state_dict

if TYPE_CHECKING:
    import torch


def pretrained_problem(arch: object, owner: str) -> str | None:
    """Why ``pretrained = true`` cannot be had offline for ``arch``, or None when it can."""
    if arch == LITE0_ARCH:
        return None
    return (f"pretrained = true loads the offline ImageNet weights of {LITE0_ARCH!r} (package {LITE0_PACKAGE!r}) "
            f"only; {owner} {arch!r} would need the model hub: give local weights with "
            f'weights = "path/to/file.safetensors", or use {LITE0_ARCH!r}')


def _prefix(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor]) -> str:
    """The prefix (``""``, ``"model."``, ...) under which most of ``state`` fits ``own``."""
    candidates = {""}
    for key in list(state)[:8]:  # the first keys (the stem) are enough to see the wrapping
        candidates |= {name[: len(name) - len(key)] for name in own if name.endswith("." + key)}

    def fits(prefix: str) -> int:
        return sum(prefix + k in own and own[prefix + k].shape == v.shape for k, v in state.items())

    return max(sorted(candidates), key=fits)


def load_backbone(module: torch.nn.Module, arch: str, *, pretrained: bool = False, weights: str | None = None,
                  owner: str = "backbone") -> LoadReport | None:
    """Load starting weights into ``module``, a timm ``arch`` network (possibly cut or ``features_only``).

    Args:
        module: the backbone.
        arch: its timm architecture.
        pretrained: load the offline ImageNet weights (``tf_efficientnet_lite0`` only).
        weights: a local weights file instead.
        owner: how messages name the backbone (``"cats: cnn_feature_extractor"``).

    Returns:
        what was loaded, or None when neither source was asked for. File tensors the
        backbone has no place for (layers after a cut, a classifier) are left out quietly;
        backbone tensors left without weights raise a :class:`PartialWeightsWarning`.

    Raises:
        HarnessError: ``pretrained`` for another architecture, both sources at once,
            an unreadable file, or no tensor that fits.
    """
    if pretrained and weights:
        raise HarnessError(f'{owner}: give either pretrained = true or weights = "path", not both')
    if not pretrained and not weights:
        return None
    if pretrained:
        problem = pretrained_problem(arch, owner)
        if problem:
            raise HarnessError(problem)
        state, source = lite0_state_dict(), LITE0_PACKAGE
    else:
        state, source = read_state_dict(str(weights)), str(weights)
    own = module.state_dict()
    prefix = _prefix(state, own)
    report = load_state(module, {prefix + k: v for k, v in state.items()}, source)
    if not report.loaded:
        raise HarnessError(f"{owner}: none of the {len(state)} tensors of {source} fit {arch!r} ({report.summary()})")
    if report.missing:
        warnings.warn(f"{owner}: {report.summary()}", PartialWeightsWarning, stacklevel=2)
    return report
