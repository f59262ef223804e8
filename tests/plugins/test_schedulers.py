"""Scheduler plugins: every learning-rate curve against its closed form."""

from __future__ import annotations

import math

import pytest
import torch

import harness_train
from harness import HarnessError, Schedule
from harness.registry import Registry
from harness_train.schedulers import FACTORIES, check, cycle_ends

BASE = 0.5


def _factory(name: str):
    return FACTORIES[name][0]


def _curve(name: str, *, epochs: int, steps: int, lrs=(BASE,), **options) -> tuple[list[list[float]], Schedule]:
    """Run a training loop with a dummy parameter per group; return each group's lr curve.

    ``curve[g][t]`` is group g's lr in effect for optimizer step t (t < epochs * steps);
    the last item is the lr after the final scheduler step.
    """
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    for p in params:
        p.grad = torch.zeros(1)
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])
    schedule = _factory(name)(optimizer, epochs=epochs, steps_per_epoch=steps, **options)
    curve: list[list[float]] = [[] for _ in lrs]

    def record() -> None:
        for g, group in enumerate(optimizer.param_groups):
            curve[g].append(group["lr"])

    for _ in range(epochs):
        for _ in range(steps):
            record()
            optimizer.step()
            if schedule.interval == "step":
                schedule.scheduler.step()
        if schedule.interval == "epoch":
            schedule.scheduler.step()
    record()
    return curve, schedule


def _cosine(t: float, span: float, high: float, low: float) -> float:
    return low + (high - low) * (1 + math.cos(math.pi * t / span)) / 2


def test_registers_all_schedulers_with_checks():
    registry = Registry("scheduler")
    harness_train.harness_register_schedulers(registry=registry)
    assert registry.names() == [
        "cosine",
        "cosine_warm_restart",
        "exponential",
        "none",
        "plateau",
        "step",
        "warmup_cosine",
        "warmup_linear",
    ]
    assert registry.entry("cosine").check({"min_lr": -1}) == [("min_lr", "must be a number >= 0, got -1")]


def test_none_keeps_the_learning_rate():
    (curve,), schedule = _curve("none", epochs=3, steps=2)
    assert curve == [BASE] * 7
    assert schedule.interval == "epoch"


def test_cosine_is_smooth_over_the_whole_run():
    epochs, steps, low = 5, 4, 0.01
    (curve,), schedule = _curve("cosine", epochs=epochs, steps=steps, min_lr=low)
    total = epochs * steps
    assert schedule.interval == "step"
    assert curve == pytest.approx([_cosine(t, total, BASE, low) for t in range(total + 1)], rel=1e-9, abs=1e-12)
    assert curve[-1] == pytest.approx(low)


def test_step_decays_every_step_size_epochs():
    epochs, steps = 7, 3
    (curve,), schedule = _curve("step", epochs=epochs, steps=steps, step_size=3, gamma=0.5)
    assert schedule.interval == "epoch"
    expected = [BASE * 0.5 ** ((t // steps) // 3) for t in range(epochs * steps + 1)]
    assert curve == pytest.approx(expected, rel=1e-12)


def test_step_defaults_to_a_third_of_the_run_and_gamma_a_tenth():
    (curve,), _ = _curve("step", epochs=6, steps=1)
    assert curve == pytest.approx([BASE * 0.1 ** (e // 2) for e in range(7)], rel=1e-12)


def test_exponential_decays_every_epoch():
    epochs, steps = 4, 2
    (curve,), _ = _curve("exponential", epochs=epochs, steps=steps)
    assert curve == pytest.approx([BASE * 0.95 ** (t // steps) for t in range(epochs * steps + 1)], rel=1e-12)


def _warmup_cosine(t: int, warmup: int, total: int, start: float, high: float, low: float) -> float:
    if t < warmup:
        return high * (start + (1 - start) * t / warmup)
    return _cosine(t - warmup, total - warmup, high, low)


def _warmup_linear(t: int, warmup: int, total: int, start: float, high: float, low: float) -> float:
    if t < warmup:
        return high * (start + (1 - start) * t / warmup)
    return high + (low - high) * (t - warmup) / (total - warmup)


@pytest.mark.parametrize(
    ("name", "closed_form"), [("warmup_cosine", _warmup_cosine), ("warmup_linear", _warmup_linear)]
)
def test_warmup_schedules_follow_their_closed_form_per_group(name, closed_form):
    epochs, steps, low, start = 6, 5, 0.001, 0.1
    lrs = (BASE, 0.05)
    curves, schedule = _curve(
        name, epochs=epochs, steps=steps, lrs=lrs, warmup_epochs=2, warmup_start_factor=start, min_lr=low
    )
    total, warmup = epochs * steps, 2 * steps
    assert schedule.interval == "step"
    for curve, high in zip(curves, lrs):
        expected = [closed_form(t, warmup, total, start, high, low) for t in range(total + 1)]
        assert curve == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert curve[warmup] == pytest.approx(high) and curve[-1] == pytest.approx(low)  # min_lr is absolute


def test_warmup_cosine_defaults_warm_up_one_epoch_from_zero():
    epochs, steps = 3, 4
    (curve,), _ = _curve("warmup_cosine", epochs=epochs, steps=steps)
    expected = [_warmup_cosine(t, steps, epochs * steps, 0.0, BASE, 0.0) for t in range(epochs * steps + 1)]
    assert curve == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert curve[:3] == pytest.approx([0.0, BASE / 4, BASE / 2])
    (single,), _ = _curve("warmup_cosine", epochs=1, steps=4)  # no room to warm up
    assert single[0] == BASE


def _warm_restart(t: int, steps: int, t_0: int, t_mult: int, high: float, low: float) -> float:
    """Closed form in fractional epochs ``t / steps``; cycle lengths kept in steps to stay exact."""
    start, length = 0, t_0 * steps
    while t >= start + length:
        start, length = start + length, length * t_mult
    return _cosine((t - start) / steps, length / steps, high, low)


@pytest.mark.parametrize(("t_0", "t_mult", "epochs"), [(2, 1, 7), (1, 2, 7)])
def test_cosine_warm_restart_restarts_at_cycle_ends(t_0, t_mult, epochs):
    steps, low = 4, 0.02
    (curve,), schedule = _curve("cosine_warm_restart", epochs=epochs, steps=steps, T_0=t_0, T_mult=t_mult, eta_min=low)
    expected = [_warm_restart(t, steps, t_0, t_mult, BASE, low) for t in range(epochs * steps + 1)]
    assert curve == pytest.approx(expected, rel=1e-9, abs=1e-12)
    ends = schedule.cycle_end_epochs
    assert ends == ((2, 4, 6) if t_mult == 1 else (1, 3, 7))
    for start, end in zip([0, *ends], ends):  # the lr falls through each cycle, then restarts
        cycle = curve[start * steps : end * steps]
        assert all(a > b for a, b in zip(cycle, cycle[1:]))
        assert curve[end * steps] == pytest.approx(BASE)


def test_cosine_warm_restart_default_cycle_is_the_run_when_shorter_than_ten_epochs():
    (curve,), schedule = _curve("cosine_warm_restart", epochs=3, steps=2, min_lr=0.1)
    assert schedule.cycle_end_epochs == (3,)
    assert curve[:6] == pytest.approx([_cosine(t, 6, BASE, 0.1) for t in range(6)])


def test_cycle_ends():
    assert cycle_ends(10, 3) == [3, 6, 9]
    assert cycle_ends(14, 2, 2) == [2, 6, 14]
    assert cycle_ends(13, 2, 2) == [2, 6]
    assert cycle_ends(1, 2) == []
    with pytest.raises(HarnessError):
        cycle_ends(5, 0)


def _plateau_lrs(metrics: list[float], **options) -> tuple[list[float], Schedule]:
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=1.0)
    schedule = _factory("plateau")(optimizer, epochs=len(metrics), steps_per_epoch=1, **options)
    lrs = []
    for value in metrics:
        schedule.scheduler.step(value)
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs, schedule


def test_plateau_drops_after_patience_epochs_without_improvement():
    # best 0.6 at epoch 2; epochs 3, 4, 5 do not beat it: the third bad epoch exceeds patience 2
    metrics = [0.5, 0.6, 0.6, 0.6, 0.59, 0.7, 0.7, 0.7, 0.7]
    lrs, schedule = _plateau_lrs(metrics, patience=2, factor=0.5)
    assert lrs == pytest.approx([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25])
    assert (schedule.interval, schedule.monitor_mode) == ("epoch", "max")


def test_plateau_defaults_min_mode_and_floor():
    lrs, _ = _plateau_lrs([1.0] * 5)  # patience 3, factor 0.1
    assert lrs == pytest.approx([1, 1, 1, 1, 0.1])
    lrs, schedule = _plateau_lrs([3.0, 2.0, 2.5, 2.5, 1.0, 1.0, 1.0], mode="min", patience=1, min_lr=0.05)
    assert lrs == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.05])
    assert schedule.monitor_mode == "min"


def test_checks_report_unknown_keys_bad_values_and_run_conflicts():
    problems = dict(check("warmup_cosine", {"warmup_epoch": 1, "min_lr": -0.1, "warmup_start_factor": 2}))
    assert set(problems) == {"warmup_epoch", "min_lr", "warmup_start_factor"}
    assert "Did you mean 'warmup_epochs'?" in problems["warmup_epoch"]
    assert check("warmup_linear", {"warmup_epochs": 3, "epochs": 3}) == [
        ("warmup_epochs", "must be less than the run's 3 epochs, got 3")
    ]
    assert check("warmup_linear", {"warmup_epochs": 2.5, "epochs": 3, "name": "warmup_linear"}) == []
    assert [k for k, _ in check("cosine_warm_restart", {"T_0": 8, "epochs": 5})] == ["T_0"]
    assert [k for k, _ in check("cosine_warm_restart", {"T_0": 1.5, "T_mult": 0})] == ["T_0", "T_mult"]
    assert [k for k, _ in check("cosine_warm_restart", {"eta_min": 0.1, "min_lr": 0.1})] == ["eta_min"]
    assert [k for k, _ in check("plateau", {"mode": "maximum", "factor": 1.0, "patience": -1})] == [
        "mode",
        "factor",
        "patience",
    ]
    assert [k for k, _ in check("step", {"step_size": 0, "gamma": 0})] == ["step_size", "gamma"]
    assert [k for k, _ in check("none", {"gamma": 0.5})] == ["gamma"]


def test_factories_raise_on_bad_options_and_run_shapes():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(HarnessError, match="warmup_epochs: must be less than the run's 2 epochs"):
        _factory("warmup_cosine")(optimizer, epochs=2, steps_per_epoch=3, warmup_epochs=2)
    with pytest.raises(HarnessError, match="min_lr 0.5 is above the optimizer's learning rate 0.1"):
        _factory("cosine")(optimizer, epochs=2, steps_per_epoch=3, min_lr=0.5)
    with pytest.raises(HarnessError, match="steps_per_epoch"):
        _factory("cosine")(optimizer, epochs=2, steps_per_epoch=0)
