"""Learning-rate scheduler plugins.

Every factory is called as ``factory(optimizer, epochs=..., steps_per_epoch=..., **options)``
and returns a :class:`harness.Schedule`: the torch scheduler, whether the training loop
steps it after every optimizer step (``"step"``) or every epoch (``"epoch"``), and for
``plateau`` whether the monitored metric is maximised or minimised.

Schedules that span the run are stepped per optimizer step so their curves are smooth;
``min_lr`` is an absolute learning rate, the same for every param group.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from harness import HarnessError, Schedule
from harness_train.options import Problem, check_options, choice, number, raise_problems

_MIN_LR = number(low=0.0)
_GAMMA = number(low=0.0, high=1.0, low_open=True)
_WARMUP = {
    "warmup_epochs": number(low=0.0),
    "warmup_start_factor": number(low=0.0, high=1.0),
    "min_lr": _MIN_LR,
}
SPECS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "none": {},
    "cosine": {"min_lr": _MIN_LR},
    "step": {"step_size": number(low=1, integer=True), "gamma": _GAMMA},
    "exponential": {"gamma": _GAMMA},
    "plateau": {
        "factor": number(low=0.0, high=1.0, low_open=True, high_open=True),
        "patience": number(low=0, integer=True),
        "mode": choice("max", "min"),
        "min_lr": _MIN_LR,
        "threshold": number(low=0.0),
        "cooldown": number(low=0, integer=True),
    },
    "warmup_cosine": _WARMUP,
    "warmup_linear": _WARMUP,
    "cosine_warm_restart": {
        "T_0": number(low=1, integer=True),
        "T_mult": number(low=1, integer=True),
        "eta_min": _MIN_LR,
        "min_lr": _MIN_LR,
    },
}
"""Option key to validator, per scheduler name."""

# The run's shape: factory keywords, which a host may also hand to ``check`` as context.
_RUN = {"epochs": number(low=1, integer=True), "steps_per_epoch": number(low=1, integer=True)}


def check(name: str, options: dict[str, Any]) -> list[Problem]:
    """Problems with the options of scheduler ``name``.

    Besides unknown keys and bad values, when ``options`` also holds the run's
    ``epochs`` the run-relative conditions are checked: ``warmup_epochs < epochs`` and
    ``T_0 <= epochs``.

    Args:
        name: a key of :data:`SPECS`.
        options: the scheduler's option table, optionally with ``epochs``.

    Returns:
        One ``(key, message)`` per problem.
    """
    run = {k: v for k, v in options.items() if k in _RUN}  # context from the host, not options of the block
    problems = check_options({k: v for k, v in options.items() if k not in _RUN}, SPECS[name], what=f"scheduler {name!r}")
    problems += check_options(run, _RUN, what="the run")
    bad = {key for key, _ in problems}
    epochs = options.get("epochs") if "epochs" not in bad else None
    warmup = options.get("warmup_epochs")
    if epochs is not None and warmup is not None and "warmup_epochs" not in bad and warmup >= epochs:
        problems.append(("warmup_epochs", f"must be less than the run's {epochs} epochs, got {warmup}"))
    t_0 = options.get("T_0")
    if epochs is not None and t_0 is not None and "T_0" not in bad and t_0 > epochs:
        problems.append(("T_0", f"is longer than the run ({epochs} epochs), so no restart would happen"))
    if options.get("eta_min") is not None and options.get("min_lr") is not None:
        problems.append(("eta_min", "give eta_min or its synonym min_lr, not both"))
    return problems


def _validated(name: str, options: dict[str, Any], epochs: int, steps_per_epoch: int) -> dict[str, Any]:
    """``options`` without None values, after raising on any problem."""
    run = {"epochs": epochs, "steps_per_epoch": steps_per_epoch}
    raise_problems(check(name, {**options, **run}), what=f"scheduler {name!r}")
    return {k: v for k, v in options.items() if v is not None}


def _base_lr(group: dict[str, Any]) -> float:
    # ``initial_lr`` is set by an earlier scheduler on the same optimizer; it wins over
    # ``lr``, exactly as torch's schedulers decide their base.
    return float(group.get("initial_lr", group["lr"]))


def _check_min_lr(optimizer: Any, min_lr: float, name: str) -> None:
    lowest = min(_base_lr(g) for g in optimizer.param_groups)
    if min_lr > lowest:
        raise HarnessError(f"scheduler {name!r}: min_lr {min_lr} is above the optimizer's learning rate {lowest}")


def cycle_ends(epochs: int, T_0: int, T_mult: int = 1) -> list[int]:  # noqa: N803 - torch's names
    """Epochs (counted from 1) at which a warm-restart cycle ends within the run.

    The first cycle lasts ``T_0`` epochs and each next one ``T_mult`` times longer; at
    each returned epoch the learning rate has reached its minimum, which is where a
    snapshot ensemble takes its snapshots. A final cycle cut short by the end of the
    run is not included.

    Args:
        epochs: length of the run.
        T_0: epochs of the first cycle, >= 1.
        T_mult: growth factor of the cycle length, >= 1.

    Returns:
        Increasing epoch numbers, each <= ``epochs``.
    """
    if T_0 < 1 or T_mult < 1:
        raise HarnessError(f"cycle_ends needs T_0 >= 1 and T_mult >= 1, got T_0={T_0}, T_mult={T_mult}")
    ends, end, length = [], T_0, T_0
    while end <= epochs:
        ends.append(end)
        length *= T_mult
        end += length
    return ends


def _constant(_step: int) -> float:
    return 1.0


def none(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """A constant learning rate."""
    _validated("none", options, epochs, steps_per_epoch)
    from torch.optim.lr_scheduler import LambdaLR

    return Schedule(LambdaLR(optimizer, _constant), interval="epoch")


def cosine(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """Cosine annealing from the optimizer's lr to ``min_lr`` (0) over the whole run, per step."""
    opts = _validated("cosine", options, epochs, steps_per_epoch)
    min_lr = float(opts.get("min_lr", 0.0))
    _check_min_lr(optimizer, min_lr, "cosine")
    from torch.optim.lr_scheduler import CosineAnnealingLR

    scheduler = CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch, eta_min=min_lr)
    return Schedule(scheduler, interval="step")


def step(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """Multiply the lr by ``gamma`` (0.1) every ``step_size`` epochs (default: a third of the run)."""
    opts = _validated("step", options, epochs, steps_per_epoch)
    from torch.optim.lr_scheduler import StepLR

    step_size = opts.get("step_size", max(1, epochs // 3))
    return Schedule(StepLR(optimizer, step_size=step_size, gamma=opts.get("gamma", 0.1)), interval="epoch")


def exponential(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """Multiply the lr by ``gamma`` (0.95) after every epoch."""
    opts = _validated("exponential", options, epochs, steps_per_epoch)
    from torch.optim.lr_scheduler import ExponentialLR

    return Schedule(ExponentialLR(optimizer, gamma=opts.get("gamma", 0.95)), interval="epoch")


def plateau(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """Multiply the lr by ``factor`` (0.1) when the monitored val metric stalls.

    Options: ``patience`` (3) epochs without improvement before a reduction, ``mode``
    ("max") of the metric, ``min_lr`` (0), ``threshold`` (1e-4, relative) and
    ``cooldown`` (0) epochs after a reduction.
    """
    opts = _validated("plateau", options, epochs, steps_per_epoch)
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    mode = opts.get("mode", "max")
    scheduler = ReduceLROnPlateau(
        optimizer,
        mode=mode,
        factor=opts.get("factor", 0.1),
        patience=opts.get("patience", 3),
        threshold=opts.get("threshold", 1e-4),
        cooldown=opts.get("cooldown", 0),
        min_lr=opts.get("min_lr", 0.0),
    )
    return Schedule(scheduler, interval="epoch", monitor_mode=mode)


def _cosine_decay(progress: float) -> float:
    return (1.0 + math.cos(math.pi * progress)) / 2.0


def _linear_decay(progress: float) -> float:
    return 1.0 - progress


def _warmup_factor(t: int, *, warmup: int, total: int, start: float, floor: float, decay: Callable) -> float:
    """LambdaLR factor at step ``t``: linear warm-up, then ``decay`` from 1 down to ``floor``."""
    if t < warmup:
        return start + (1.0 - start) * t / warmup
    progress = min(1.0, (t - warmup) / (total - warmup))  # stays at the floor past the end
    return floor + (1.0 - floor) * decay(progress)


def _warmup_then(name: str, decay: Callable, optimizer: Any, epochs: int, steps_per_epoch: int, options: dict) -> Any:
    opts = _validated(name, options, epochs, steps_per_epoch)
    min_lr = float(opts.get("min_lr", 0.0))
    _check_min_lr(optimizer, min_lr, name)
    total = epochs * steps_per_epoch
    # One epoch of warm-up by default; a one-epoch run has no room for it.
    warmup_epochs = opts.get("warmup_epochs", 1 if epochs > 1 else 0)
    warmup = min(round(warmup_epochs * steps_per_epoch), total - 1)
    from torch.optim.lr_scheduler import LambdaLR

    factors = []
    for group in optimizer.param_groups:
        base = _base_lr(group)
        factor = functools.partial(
            _warmup_factor,
            warmup=warmup,
            total=total,
            start=float(opts.get("warmup_start_factor", 0.0)),
            floor=min_lr / base if base > 0 else 0.0,  # min_lr is absolute; LambdaLR scales each group's base
            decay=decay,
        )
        factors.append(factor)
    return LambdaLR(optimizer, factors)


def warmup_cosine(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """Linear warm-up then cosine decay to ``min_lr``, per step.

    Options: ``warmup_epochs`` (1; 0 for a one-epoch run; may be fractional),
    ``warmup_start_factor`` (0.0: the first step's lr as a fraction of the base lr) and
    ``min_lr`` (0).
    """
    scheduler = _warmup_then("warmup_cosine", _cosine_decay, optimizer, epochs, steps_per_epoch, options)
    return Schedule(scheduler, interval="step")


def warmup_linear(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """Linear warm-up then linear decay to ``min_lr``, per step; options as :func:`warmup_cosine`."""
    scheduler = _warmup_then("warmup_linear", _linear_decay, optimizer, epochs, steps_per_epoch, options)
    return Schedule(scheduler, interval="step")


def cosine_warm_restart(optimizer: Any, *, epochs: int, steps_per_epoch: int, **options: Any) -> Schedule:
    """Cosine annealing with warm restarts (SGDR), stepped per optimizer step.

    Options: ``T_0`` epochs of the first cycle (10, or the whole run if shorter),
    ``T_mult`` (1) growth of each next cycle, ``eta_min`` (0; synonym ``min_lr``).
    Cycle lengths are converted to steps, so the curve equals torch's
    ``CosineAnnealingWarmRestarts`` stepped with fractional epochs. The epochs at which
    cycles end are the schedule's ``cycle_end_epochs`` (see :func:`cycle_ends`).
    """
    opts = _validated("cosine_warm_restart", options, epochs, steps_per_epoch)
    eta_min = float(opts.get("eta_min", opts.get("min_lr", 0.0)))
    _check_min_lr(optimizer, eta_min, "cosine_warm_restart")
    t_0 = opts.get("T_0", min(10, epochs))
    t_mult = opts.get("T_mult", 1)
    from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

    scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=t_0 * steps_per_epoch, T_mult=t_mult, eta_min=eta_min)
    return Schedule(scheduler, interval="step", cycle_end_epochs=tuple(cycle_ends(epochs, t_0, t_mult)))


FACTORIES: dict[str, tuple[Callable[..., Schedule], str]] = {
    "none": (none, "constant learning rate"),
    "cosine": (cosine, "cosine annealing to min_lr over the run, per step"),
    "step": (step, "lr times gamma every step_size epochs"),
    "exponential": (exponential, "lr times gamma every epoch"),
    "plateau": (plateau, "lr times factor when the monitored val metric stalls"),
    "warmup_cosine": (warmup_cosine, "linear warm-up, then cosine to min_lr, per step"),
    "warmup_linear": (warmup_linear, "linear warm-up, then linear decay to min_lr, per step"),
    "cosine_warm_restart": (cosine_warm_restart, "cosine with warm restarts every T_0 epochs (SGDR), per step"),
}


EXAMPLES = {"cosine_warm_restart": {"T_0": 2}, "step": {"step_size": 2}}
"""Small settings with visible structure (restarts, steps) for the contract tests."""


def register(registry: Any) -> None:
    """Register every scheduler of this module into ``registry``."""
    for name, (factory, description) in FACTORIES.items():
        registry.register(name, factory, description=description, check=functools.partial(check, name),
                          example=EXAMPLES.get(name))
