"""Built-in model plugin ``timm``: any timm architecture by name."""

from __future__ import annotations

import os
from typing import Any

from harness import HarnessError, hookimpl

OPTIONS = ("arch", "pretrained", "weights", "drop_rate", "drop_path_rate")


def check(options: dict[str, Any]) -> list[tuple[str, str]]:
    """Option problems, found without building the model (imports timm for the name list)."""
    import difflib

    problems = []
    for key in options:
        if key not in OPTIONS:
            close = difflib.get_close_matches(key, OPTIONS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append((key, f"unknown option of model plugin 'timm'.{hint} Allowed: {', '.join(OPTIONS)}"))
    arch = options.get("arch")
    if not isinstance(arch, str):
        problems.append(("arch", "is required: a timm architecture name such as \"convnext_atto\""))
    else:
        import timm

        if not timm.is_model(arch):
            close = difflib.get_close_matches(arch, timm.list_models(), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            problems.append(("arch", f"{arch!r} is not a timm architecture.{hint}"))
    if not isinstance(options.get("pretrained", False), bool):
        problems.append(("pretrained", "must be true or false"))
    weights = options.get("weights")
    if weights is not None and not (isinstance(weights, str) and os.path.isfile(weights)):
        problems.append(("weights", f"must be the path of a local weights file; {weights!r} does not exist"))
    return problems


def load_weights(model: Any, path: str) -> None:
    """Load a local safetensors file or state dict without unpickling arbitrary objects.

    Tensors whose shapes do not fit (a classifier head for other classes) are skipped.
    """
    import torch

    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise HarnessError(f"{path}: not a state dict")
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise HarnessError(f"{path}: none of its {len(state)} tensors fit this model")
    model.load_state_dict(fitting, strict=False)


def create(num_classes: int, arch: str, pretrained: bool = False, weights: str | None = None, **kwargs: Any):
    """A timm model with ``num_classes`` outputs; never downloads anything by itself."""
    import timm

    if pretrained:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise HarnessError(
                f"pretrained = true for {arch!r} needs a download from the model hub, and HF_HUB_OFFLINE=1 is set; "
                "give local weights with weights = \"path/to/file.safetensors\" instead")
        try:
            return timm.create_model(arch, pretrained=True, num_classes=num_classes, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any hub failure means the same thing to the user
            raise HarnessError(
                f"pretrained weights for {arch!r} could not be downloaded ({type(exc).__name__}); this machine may be "
                "offline: give local weights with weights = \"path/to/file.safetensors\"") from exc
    model = timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
    if weights:
        load_weights(model, weights)
    return model


@hookimpl
def harness_register_models(registry) -> None:
    registry.register("timm", create, description="any timm architecture by name (arch = ...)", check=check)
