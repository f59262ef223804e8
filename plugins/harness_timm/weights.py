"""Local weights: read a file without unpickling, load what fits, say what did not.

A weights file is a safetensors file or a ``torch.save``-d state dict (read with
``weights_only=True``, so no arbitrary object is ever unpickled). A state dict nested
under ``"state_dict"`` or ``"model"`` (training checkpoints) is found too.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness import HarnessError

if TYPE_CHECKING:
    import torch

PREFIXES = ("", "backbone.")
"""Where a file's keys may land in the model: as they are, or inside a ``backbone`` (so a
plain timm checkpoint loads into a model that wraps a timm backbone)."""

_LISTED = 8  # names shown in a message before "... and N more"


class PartialWeightsWarning(UserWarning):
    """Some tensors of a weights file did not fit, or some model tensors got none."""


@dataclass(frozen=True)
class LoadReport:
    """What loading a state dict into a model did.

    Attributes:
        source: the file (or package) the tensors came from.
        loaded: model keys that received a tensor.
        skipped: file keys that were not used, each with the reason.
        missing: model keys that received nothing and keep their initial values.
    """

    source: str
    loaded: tuple[str, ...]
    skipped: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Every file tensor was used and every model tensor was set."""
        return not self.skipped and not self.missing

    def summary(self) -> str:
        """One paragraph: counts, then the names of what was skipped or left out."""
        total = len(self.loaded) + len(self.skipped)
        text = f"weights {self.source}: loaded {len(self.loaded)} of {total} tensors"
        if self.skipped:
            text += f"; skipped {len(self.skipped)}: {_listing(self.skipped)}"
        if self.missing:
            text += f"; {len(self.missing)} model tensors keep their initial values: {_listing(self.missing)}"
        return text


def _listing(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" ... and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _shape(tensor: torch.Tensor) -> str:
    return "[" + ", ".join(map(str, tensor.shape)) + "]"


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The tensors of a local weights file, by name.

    Args:
        path: a ``.safetensors`` file, or a file written by ``torch.save`` holding a
            state dict (possibly under ``"state_dict"`` or ``"model"``).

    Returns:
        name -> tensor.

    Raises:
        HarnessError: the file cannot be read safely or holds no state dict.
    """
    import torch

    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state: Any = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the same user problem
        raise HarnessError(f"{path}: cannot be read as safetensors or a plain state dict ({exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HarnessError(f"{path}: not a state dict (a mapping of names to tensors)")
    return dict(state)


def _prefix(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor]) -> str:
    """The prefix under which most of the file's tensors fit the model.

    One prefix for the whole file, so a key that happens to exist both at the top and
    inside the backbone (``head.norm.weight``) lands where the rest of its file does.
    """

    def fits(prefix: str) -> int:
        return sum(prefix + k in own and own[prefix + k].shape == v.shape for k, v in state.items())

    return max(PREFIXES, key=fits)  # max keeps the first of equals: "" when nothing is gained


def load_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str) -> LoadReport:
    """Copy every tensor of ``state`` that fits ``model`` (by name and shape); never raises on misfits.

    Args:
        model: the module to load into.
        state: name -> tensor; the names may lack a ``backbone.`` prefix the model has
            (see :data:`PREFIXES`).
        source: where the tensors came from, for messages.

    Returns:
        a :class:`LoadReport`.
    """
    own = model.state_dict()
    prefix = _prefix(state, own)
    fitting: dict[str, torch.Tensor] = {}
    skipped = []
    for key, tensor in state.items():
        target = prefix + key
        if target not in own:
            skipped.append(f"{key} (not in this model)")
        elif own[target].shape != tensor.shape:
            skipped.append(f"{key} (shape {_shape(tensor)} in the file, {_shape(own[target])} in the model)")
        else:
            fitting[target] = tensor
    if fitting:
        model.load_state_dict(fitting, strict=False)
    missing = tuple(k for k in own if k not in fitting and not k.endswith("num_batches_tracked"))
    return LoadReport(source, tuple(fitting), tuple(skipped), missing)


def load_weights(model: torch.nn.Module, path: str) -> LoadReport:
    """Load a local weights file into ``model``, warning about anything that did not fit.

    Tensors whose names or shapes do not fit (typically a classifier for another number
    of classes) are skipped; a classifier left without weights is zero-initialised so
    training starts from uniform predictions.

    Args:
        model: the module to load into.
        path: see :func:`read_state_dict`.

    Returns:
        a :class:`LoadReport`; a :class:`PartialWeightsWarning` with its summary is
        issued when it is not complete.

    Raises:
        HarnessError: the file is unreadable or none of its tensors fit.
    """
    state = read_state_dict(path)
    report = load_state(model, state, path)
    if not report.loaded:
        raise HarnessError(f"{path}: none of its {len(state)} tensors fit this model ({report.summary()})")
    zero_new_classifier(model, report)
    if not report.complete:
        warnings.warn(report.summary(), PartialWeightsWarning, stacklevel=2)
    return report


def classifier_layer(model: torch.nn.Module) -> torch.nn.Module | None:
    """The final linear layer: timm's ``get_classifier()``, or the last Linear inside it."""
    import torch

    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if isinstance(head, torch.nn.Linear) or not isinstance(head, torch.nn.Module):
        return head if isinstance(head, torch.nn.Linear) else None
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    return linears[-1] if linears else None


def zero_classifier(model: torch.nn.Module) -> bool:
    """Zero the final linear layer; True if there was one.

    Why: a classifier initialised for training from scratch can give pretrained
    features very large logits (timm's EfficientNet head on ImageNet features starts
    near a loss of 3 for two classes); a zero classifier starts at exactly ``ln K``, as
    in the usual recipe for fine-tuning a new head.
    """
    layer = classifier_layer(model)
    if layer is None:
        return False
    import torch

    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
    return True


def zero_new_classifier(model: torch.nn.Module, report: LoadReport) -> bool:
    """Zero the classifier when ``report`` says the weights left it out; True if zeroed."""
    layer = classifier_layer(model)
    if layer is None:
        return False
    names = {id(p): n for n, p in model.named_parameters()}
    if not any(names.get(id(p)) in report.missing for p in layer.parameters()):
        return False
    return zero_classifier(model)
