"""Optimizer plugins: ``adam``, ``adamw`` and ``sgd``.

Every factory is called as ``factory(params, **options)``; ``params`` is what
``torch.optim`` accepts (tensors or param-group dicts) and the result is a
``torch.optim.Optimizer``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness import HarnessError
from harness_train.options import Problem, boolean, check_options, number, numbers, raise_problems

if TYPE_CHECKING:
    import torch

_LR = number(low=0.0, low_open=True)
_DECAY = number(low=0.0)
_EPS = number(low=0.0, low_open=True)
_BETAS = numbers(number(low=0.0, high=1.0, high_open=True), length=2)

ADAM_SPEC = {
    "lr": _LR,
    "weight_decay": _DECAY,
    "betas": _BETAS,
    "eps": _EPS,
    "amsgrad": boolean(),
    "decay_bias_and_norm": boolean(),
}
SGD_SPEC = {
    "lr": _LR,
    "weight_decay": _DECAY,
    "momentum": number(low=0.0, high=1.0, high_open=True),
    "dampening": number(low=0.0, high=1.0),
    "nesterov": boolean(),
    "decay_bias_and_norm": boolean(),
}

ADAM_DEFAULTS = {"lr": 1e-3, "weight_decay": 0.0, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}
ADAMW_DEFAULTS = {**ADAM_DEFAULTS, "weight_decay": 0.01}
SGD_DEFAULTS = {"lr": 0.01, "weight_decay": 0.0, "momentum": 0.9, "dampening": 0.0, "nesterov": False}


def check_adam(options: dict[str, Any]) -> list[Problem]:
    """Problems with the options of ``adam``."""
    return check_options(options, ADAM_SPEC, what="optimizer 'adam'")


def check_adamw(options: dict[str, Any]) -> list[Problem]:
    """Problems with the options of ``adamw``."""
    return check_options(options, ADAM_SPEC, what="optimizer 'adamw'")


def check_sgd(options: dict[str, Any]) -> list[Problem]:
    """Problems with the options of ``sgd``, including torch's Nesterov conditions."""
    problems = check_options(options, SGD_SPEC, what="optimizer 'sgd'")
    if options.get("nesterov") is True and not problems:
        merged = {**SGD_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
        if merged["momentum"] <= 0 or merged["dampening"] != 0:
            problems.append(("nesterov", "needs momentum > 0 and dampening = 0"))
    return problems


def _settings(options: dict[str, Any], defaults: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Defaults overlaid with the given options, and the ``decay_bias_and_norm`` flag."""
    given = {k: v for k, v in options.items() if v is not None and k != "decay_bias_and_norm"}
    settings = {**defaults, **given}
    if "betas" in settings:
        settings["betas"] = tuple(float(b) for b in settings["betas"])
    return settings, options.get("decay_bias_and_norm", True) is not False


def param_groups(params: Iterable[Any], *, weight_decay: float, decay_bias_and_norm: bool) -> list[Any]:
    """The parameters as a list, split so biases and norm scales skip weight decay if asked.

    Parameters with at most one dimension (biases, norm scales and shifts) go into a
    group with ``weight_decay = 0`` when ``decay_bias_and_norm`` is False: decaying them
    pulls normalisation layers towards zero without regularising anything useful.
    Param-group dicts given by the caller are kept as they are.

    Args:
        params: an iterable of tensors or of param-group dicts.
        weight_decay: the optimizer's weight decay.
        decay_bias_and_norm: False to exempt one-dimensional parameters.

    Returns:
        A list ``torch.optim`` accepts.
    """
    params = list(params)
    if not params:
        raise HarnessError("the model has no parameters to optimise")
    if decay_bias_and_norm or weight_decay == 0 or any(isinstance(p, dict) for p in params):
        return params
    decayed = [p for p in params if p.ndim > 1]
    exempt = [p for p in params if p.ndim <= 1]
    groups = [{"params": decayed}] if decayed else []
    if exempt:
        groups.append({"params": exempt, "weight_decay": 0.0})
    return groups


FUSED = ("Adam", "AdamW")
"""Optimizers built with ``fused=True`` (the same update as the default loop, in one kernel)."""


def _build(
    cls_name: str, params: Iterable[Any], settings: dict[str, Any], decay_bias_and_norm: bool
) -> torch.optim.Optimizer:
    import torch

    groups = param_groups(params, weight_decay=settings["weight_decay"], decay_bias_and_norm=decay_bias_and_norm)
    cls = getattr(torch.optim, cls_name)
    if cls_name in FUSED:
        try:  # one fused kernel per step: about 4x faster than the per-tensor loop on a CPU
            return cls(groups, **settings, fused=True)
        except (RuntimeError, ValueError, TypeError):
            pass  # parameters on a device (or of a dtype) without the fused kernel
    return cls(groups, **settings)


def adam(params: Iterable[Any], **options: Any) -> torch.optim.Optimizer:
    """Adam with L2 weight decay added to the gradient.

    Args:
        params: tensors or param-group dicts.
        **options: ``lr`` (1e-3), ``weight_decay`` (0), ``betas`` ([0.9, 0.999]),
            ``eps`` (1e-8), ``amsgrad`` (false), ``decay_bias_and_norm`` (true).

    Returns:
        A ``torch.optim.Adam``.
    """
    raise_problems(check_adam(options), what="optimizer 'adam'")
    return _build("Adam", params, *_settings(options, ADAM_DEFAULTS))


def adamw(params: Iterable[Any], **options: Any) -> torch.optim.Optimizer:
    """AdamW: Adam with decoupled weight decay.

    Args:
        params: tensors or param-group dicts.
        **options: as :func:`adam`, but ``weight_decay`` defaults to 0.01.

    Returns:
        A ``torch.optim.AdamW``.
    """
    raise_problems(check_adamw(options), what="optimizer 'adamw'")
    return _build("AdamW", params, *_settings(options, ADAMW_DEFAULTS))


def sgd(params: Iterable[Any], **options: Any) -> torch.optim.Optimizer:
    """Stochastic gradient descent with momentum.

    Args:
        params: tensors or param-group dicts.
        **options: ``lr`` (0.01), ``momentum`` (0.9), ``nesterov`` (false),
            ``dampening`` (0), ``weight_decay`` (0), ``decay_bias_and_norm`` (true).

    Returns:
        A ``torch.optim.SGD``.
    """
    raise_problems(check_sgd(options), what="optimizer 'sgd'")
    return _build("SGD", params, *_settings(options, SGD_DEFAULTS))


def register(registry: Any) -> None:
    """Register every optimizer of this module into ``registry``."""
    registry.register("adam", adam, description="Adam (lr, betas, eps, weight_decay as L2)", check=check_adam)
    registry.register("adamw", adamw, description="AdamW, decoupled weight decay (default 0.01)", check=check_adamw)
    registry.register("sgd", sgd, description="SGD, momentum 0.9 by default, optional Nesterov", check=check_sgd)
