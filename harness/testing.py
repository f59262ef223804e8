"""Contract tests for plugins, shipped with the library.

A plugin package runs the same checks as the built-ins::

    from harness.testing import model_contract_tests
    test_models = model_contract_tests(["tiny-cnn"], options={"tiny-cnn": {"width": 4}})

Each ``*_contract_tests`` function returns a pytest test function parametrised over the
named entries (every registered one by default); the ``check_*`` functions hold the
checks themselves and can be called directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.plugins import Plugins, build_plugins

DEFAULT_MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "timm": {"arch": "resnet10t"},
    "cats": {"img_size": 32, "patch_size": 16},
    "gain-mtl": {"backbone": "mobilenetv3_small_050", "fpn_channels": 16, "hidden": 32},
}


def check_model(plugins: Plugins, name: str, options: dict[str, Any] | None = None, image_size: int = 32) -> None:
    """A model builds, maps ``[2, 3, S, S]`` to finite ``[2, K]`` logits, and learns.

    Checks: the factory returns an ``nn.Module``; logits have the right shape and are
    finite; maps (if any) are ``[B, h, w]``; the loss (the model's own, if it has one)
    is a finite scalar whose gradient reaches the parameters; evaluation is repeatable.
    """
    import torch

    from harness.model import Batch, split_outputs

    torch.manual_seed(0)
    model = plugins.registry("models").get(name)(num_classes=3, **(options or {}))
    assert isinstance(model, torch.nn.Module), f"{name}: factory returned {type(model).__name__}"
    images = torch.randn(2, 3, image_size, image_size)
    labels = torch.tensor([0, 2])
    masks = torch.zeros(2, image_size, image_size)
    masks[1, 4:12, 4:12] = 1
    batch = Batch(images, labels, masks, torch.tensor([True, True]), training=True, epoch=0, num_epochs=4,
                  progress=0.0)
    model.train()
    outputs = model.forward_batch(batch) if hasattr(model, "forward_batch") else model(images)
    logits, maps = split_outputs(outputs)
    assert tuple(logits.shape) == (2, 3), f"{name}: logits shape {tuple(logits.shape)}, expected (2, 3)"
    assert torch.isfinite(logits).all(), f"{name}: non-finite logits"
    for key, value in maps.items():
        assert value.dim() in (3, 4) and value.shape[0] == 2, f"{name}: map {key} has shape {tuple(value.shape)}"
    if hasattr(model, "compute_loss"):
        result = model.compute_loss(outputs, batch)
        loss = result[0] if isinstance(result, tuple) else result
    else:
        loss = torch.nn.functional.cross_entropy(logits, labels)
    assert loss.dim() == 0 and torch.isfinite(loss), f"{name}: loss {loss}"
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{name}: no gradient reached any parameter"
    model.eval()
    with torch.no_grad():
        first, _ = split_outputs(model(images))
        second, _ = split_outputs(model(images))
    assert torch.allclose(first, second), f"{name}: evaluation is not repeatable"


def check_dataset(plugins: Plugins, name: str, options: dict[str, Any] | None = None, image_size: int = 32) -> None:
    """A dataset builds three consistent splits, deterministically."""
    from harness.data import SPLITS, Dataset

    factory = plugins.registry("datasets").get(name)
    first = factory(image_size=image_size, **(options or {}))
    again = factory(image_size=image_size, **(options or {}))
    assert isinstance(first, Dataset), f"{name}: factory returned {type(first).__name__}"
    assert first.fingerprint == again.fingerprint, f"{name}: fingerprint changes between identical builds"
    for cls in first.classes:
        assert cls.isidentifier() and cls == cls.lower(), f"{name}: class name {cls!r} is not a lower-case identifier"
    for split in SPLITS:
        s = first.split(split)
        assert len(s) > 0, f"{name}: empty {split} split"
        assert s.images.shape[1:3] == (image_size, image_size), f"{name}: {split} images {s.images.shape}"
        assert s.labels.min() >= 0 and s.labels.max() < len(first.classes), f"{name}: {split} labels out of range"
        np.testing.assert_array_equal(s.images, again.split(split).images, err_msg=f"{name}: not deterministic")


def check_loss(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """A loss gives a finite scalar with a gradient, and is lower for better logits."""
    import torch

    loss_fn = plugins.registry("losses").get(name)(class_counts=[6, 3, 1], **(options or {}))
    labels = torch.tensor([0, 1, 2, 0])
    good = torch.nn.functional.one_hot(labels, 3).float() * 4.0
    bad = torch.zeros(4, 3, requires_grad=True)
    worse = loss_fn(bad, labels)
    worse.backward()
    assert worse.dim() == 0 and torch.isfinite(worse), f"{name}: loss {worse}"
    assert bad.grad is not None and bad.grad.abs().sum() > 0, f"{name}: no gradient"
    assert loss_fn(good, labels).item() < worse.item(), f"{name}: confident correct logits do not lower the loss"


def check_scheduler(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """A scheduler returns a ``Schedule`` that steps without error and keeps the LR finite."""
    import torch

    from harness.schedule import Schedule

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    schedule = plugins.registry("schedulers").get(name)(optimizer, epochs=4, steps_per_epoch=3, **(options or {}))
    assert isinstance(schedule, Schedule), f"{name}: returned {type(schedule).__name__}, not harness.Schedule"
    assert schedule.interval in ("step", "epoch")
    for epoch in range(4):
        for _ in range(3):
            optimizer.step()
            if schedule.interval == "step":
                schedule.scheduler.step()
        if schedule.interval == "epoch":
            if isinstance(schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                schedule.scheduler.step(0.5)
            else:
                schedule.scheduler.step()
        lr = optimizer.param_groups[0]["lr"]
        assert math.isfinite(lr) and lr >= 0, f"{name}: learning rate {lr} after epoch {epoch + 1}"


def check_metric(plugins: Plugins, name: str) -> None:
    """A metric function returns a dict of floats for a small prediction set."""
    from harness.predictions import PredictionSet

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=12)
    pred = PredictionSet(("a", "b", "c"), tuple(str(i) for i in range(12)), np.arange(12) % 3, proba)
    values = plugins.registry("metrics").get(name)(pred)
    assert isinstance(values, dict), f"{name}: returned {type(values).__name__}"
    for key, value in values.items():
        assert isinstance(key, str) and isinstance(float(value), float), f"{name}: {key}={value!r}"


def _contract(kind: str, check: Callable[..., None], names: list[str] | None, exclude: tuple[str, ...],
              options: dict[str, dict[str, Any]] | None, defaults: dict[str, dict[str, Any]]):
    import pytest

    plugins = build_plugins()
    chosen = names if names is not None else [n for n in plugins.registry(kind).names() if n not in exclude]
    merged = {**defaults, **(options or {})}

    @pytest.mark.parametrize("name", chosen)
    def test_contract(name: str) -> None:
        if check is check_metric:
            check(plugins, name)
        else:
            check(plugins, name, merged.get(name))

    return test_contract


def model_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                         options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) model plugins."""
    return _contract("models", check_model, names, exclude, options, DEFAULT_MODEL_OPTIONS)


def dataset_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                           options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) dataset plugins."""
    return _contract("datasets", check_dataset, names, exclude, options, {})


def loss_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                        options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) loss plugins."""
    return _contract("losses", check_loss, names, exclude, options, {})


def scheduler_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                             options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) scheduler plugins."""
    return _contract("schedulers", check_scheduler, names, exclude, options, {})


def metric_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = ()):
    """A pytest test over the named (default: every registered) metric plugins."""
    return _contract("metrics", check_metric, names, exclude, None, {})
