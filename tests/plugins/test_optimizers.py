"""Optimizer plugins: closed-form updates on a quadratic, types, groups and checks."""

from __future__ import annotations

import pytest
import torch

import harness_train
from harness import HarnessError
from harness.registry import Registry
from harness_train.optimizers import adam, adamw, check_adam, check_sgd, sgd

X0 = [1.0, -2.0, 0.5]
CENTRE = [0.5, 1.0, 0.0]
CURVATURE = 3.0


def _quadratic_step(optimizer_factory, steps=1, **options) -> tuple[list[float], torch.optim.Optimizer]:
    """Minimise ``CURVATURE/2 * |x - CENTRE|^2`` from X0 for ``steps`` steps; return x."""
    x = torch.nn.Parameter(torch.tensor(X0, dtype=torch.float64))
    optimizer = optimizer_factory([x], **options)
    for _ in range(steps):
        optimizer.zero_grad()
        (CURVATURE / 2 * ((x - torch.tensor(CENTRE, dtype=torch.float64)) ** 2).sum()).backward()
        optimizer.step()
    return x.detach().tolist(), optimizer


def _grad(x: list[float]) -> list[float]:
    return [CURVATURE * (xi - ci) for xi, ci in zip(x, CENTRE)]


def test_registers_the_three_optimizers_with_checks():
    registry = Registry("optimizer")
    harness_train.harness_register_optimizers(registry=registry)
    assert registry.names() == ["adam", "adamw", "sgd"]
    assert all(entry.check is not None for entry in registry)


def test_sgd_two_steps_with_default_momentum_match_the_closed_form():
    lr, m = 0.1, 0.9
    x, optimizer = _quadratic_step(sgd, steps=2, lr=lr)
    g0 = _grad(X0)
    x1 = [xi - lr * gi for xi, gi in zip(X0, g0)]  # the first buffer is the gradient itself
    g1 = _grad(x1)
    x2 = [xi - lr * (m * a + b) for xi, a, b in zip(x1, g0, g1)]
    assert x == pytest.approx(x2, rel=1e-12)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["momentum"] == 0.9


def test_sgd_nesterov_and_weight_decay_first_step():
    lr, m, wd = 0.05, 0.8, 0.1
    x, _ = _quadratic_step(sgd, lr=lr, momentum=m, nesterov=True, weight_decay=wd)
    g = [gi + wd * xi for gi, xi in zip(_grad(X0), X0)]  # L2 term joins the gradient
    expected = [xi - lr * (1 + m) * gi for xi, gi in zip(X0, g)]  # g + m * buffer, buffer = g
    assert x == pytest.approx(expected, rel=1e-12)


def test_adam_first_step_moves_each_coordinate_by_lr_and_adds_l2_to_the_gradient():
    lr, wd, eps = 0.01, 0.5, 1e-8
    x, optimizer = _quadratic_step(adam, lr=lr, weight_decay=wd, eps=eps)
    g = [gi + wd * xi for gi, xi in zip(_grad(X0), X0)]
    # bias-corrected moments after one step are g and g^2
    expected = [xi - lr * gi / (abs(gi) + eps) for xi, gi in zip(X0, g)]
    assert x == pytest.approx(expected, rel=1e-12)
    assert type(optimizer) is torch.optim.Adam
    assert optimizer.param_groups[0]["weight_decay"] == 0.5


def test_adamw_first_step_decouples_weight_decay():
    lr, eps = 0.01, 1e-8
    x, optimizer = _quadratic_step(adamw, lr=lr, betas=[0.8, 0.99])
    wd = 0.01  # the adamw default
    expected = [xi * (1 - lr * wd) - lr * gi / (abs(gi) + eps) for xi, gi in zip(X0, _grad(X0))]
    assert x == pytest.approx(expected, rel=1e-12)
    assert type(optimizer) is torch.optim.AdamW
    assert optimizer.param_groups[0]["betas"] == (0.8, 0.99)
    assert optimizer.param_groups[0]["weight_decay"] == 0.01


def test_defaults_of_each_optimizer():
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert adam(params).defaults["lr"] == 1e-3 and adam(params).defaults["weight_decay"] == 0.0
    group = sgd(params).param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"]) == (0.01, 0.9, False)


def test_biases_and_norm_scales_can_skip_weight_decay():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    optimizer = adamw(model.parameters(), weight_decay=0.05, decay_bias_and_norm=False)
    decayed, exempt = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05 and exempt["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(model[0].weight), id(model[2].weight)}
    assert len(exempt["params"]) == 4  # two biases, the norm's scale and shift
    assert len(adamw(model.parameters(), weight_decay=0.05).param_groups) == 1


def test_given_param_groups_are_kept():
    a, b = torch.nn.Parameter(torch.zeros(2, 2)), torch.nn.Parameter(torch.zeros(2))
    optimizer = sgd([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, decay_bias_and_norm=False)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]


def test_checks_report_unknown_keys_and_bad_values():
    problems = dict(check_adam({"learning_rate": 0.1, "lr": 0, "betas": [0.9, 1.0], "eps": "tiny"}))
    assert set(problems) == {"learning_rate", "lr", "betas", "eps"}
    assert problems["lr"] == "must be a number > 0, got 0"
    assert problems["betas"].startswith("item 2: must be a number >= 0 and < 1, got 1.0")
    assert problems["learning_rate"].startswith("unknown option of optimizer 'adam'. Allowed: amsgrad, betas")
    assert check_adam({"lr": 3e-4, "betas": [0.9, 0.95], "weight_decay": 0}) == []
    assert [key for key, _ in check_sgd({"nesterov": True, "momentum": 0})] == ["nesterov"]
    assert [key for key, _ in check_sgd({"nesterov": "yes"})] == ["nesterov"]
    assert check_sgd({"nesterov": True}) == []  # momentum defaults to 0.9


def test_factories_raise_on_bad_options_and_empty_parameters():
    with pytest.raises(HarnessError, match="lr"):
        sgd([torch.nn.Parameter(torch.zeros(1))], lr=-1.0)
    with pytest.raises(HarnessError, match="no parameters"):
        adam([])
