"""Contract checks for what builds and trains a model: models, datasets, losses, optimizers, schedulers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.plugins import Plugins


def _options(plugins: Plugins, kind: str, name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` if given, else the entry's registered ``example``, else no options."""
    if options is not None:
        return dict(options)
    return dict(plugins.registry(kind).entry(name).example or {})


def check_model(plugins: Plugins, name: str, options: dict[str, Any] | None = None, image_size: int = 32) -> None:
    """A model builds, maps ``[2, 3, S, S]`` to finite ``[2, K]`` logits, and learns.

    Checks: the factory returns an ``nn.Module``; logits have the right shape and are
    finite; maps (if any) are ``[B, h, w]``; the loss (the model's own, if it has one)
    is a finite scalar whose gradient reaches the parameters; evaluation is repeatable.
    """
    import torch

    from harness.model import Batch, split_outputs

    torch.manual_seed(0)
    model = plugins.registry("models").get(name)(num_classes=3, **_options(plugins, "models", name, options))
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
    options = _options(plugins, "datasets", name, options)
    first = factory(image_size=image_size, **options)
    again = factory(image_size=image_size, **options)
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

    loss_fn = plugins.registry("losses").get(name)(class_counts=[6, 3, 1], **_options(plugins, "losses", name, options))
    labels = torch.tensor([0, 1, 2, 0])
    good = torch.nn.functional.one_hot(labels, 3).float() * 4.0
    bad = torch.zeros(4, 3, requires_grad=True)
    worse = loss_fn(bad, labels)
    worse.backward()
    assert worse.dim() == 0 and torch.isfinite(worse), f"{name}: loss {worse}"
    assert bad.grad is not None and bad.grad.abs().sum() > 0, f"{name}: no gradient"
    assert loss_fn(good, labels).item() < worse.item(), f"{name}: confident correct logits do not lower the loss"


def check_optimizer(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """An optimizer is a ``torch.optim.Optimizer`` that lowers a simple quadratic loss."""
    import torch

    torch.manual_seed(0)
    param = torch.nn.Parameter(torch.full((4,), 3.0))
    optimizer = plugins.registry("optimizers").get(name)([param], **_options(plugins, "optimizers", name, options))
    assert isinstance(optimizer, torch.optim.Optimizer), f"{name}: returned {type(optimizer).__name__}"
    start = float((param.detach() ** 2).sum())
    for _ in range(20):
        optimizer.zero_grad()
        (param ** 2).sum().backward()
        optimizer.step()
    end = float((param.detach() ** 2).sum())
    assert math.isfinite(end) and end < start, f"{name}: loss went from {start} to {end} in 20 steps"


def _lr_curve(schedule: Any, optimizer: Any, epochs: int, steps: int) -> list[list[float]]:
    """The learning rate of every optimizer step, epoch by epoch, stepping as the loop does."""
    import torch

    curve = []
    for _ in range(epochs):
        lrs = []
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if schedule.interval == "step":
                schedule.scheduler.step()
        if schedule.interval == "epoch":
            if isinstance(schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                schedule.scheduler.step(0.5)
            else:
                schedule.scheduler.step()
        curve.append(lrs)
    return curve


def check_scheduler(plugins: Plugins, name: str, options: dict[str, Any] | None = None, *, epochs: int = 6,
                    steps_per_epoch: int = 3) -> None:
    """A scheduler returns a :class:`harness.Schedule` that steps and keeps the LR finite.

    Its ``cycle_end_epochs`` are increasing epochs within the run; at each one that is
    not the last epoch the learning rate restarts (the next epoch's first rate is higher
    than the end epoch's last), which is where a snapshot ensemble takes a member.
    """
    import torch

    from harness.schedule import Schedule

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    schedule = plugins.registry("schedulers").get(name)(optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                                        **_options(plugins, "schedulers", name, options))
    assert isinstance(schedule, Schedule), f"{name}: returned {type(schedule).__name__}, not harness.Schedule"
    assert schedule.interval in ("step", "epoch"), f"{name}: interval {schedule.interval!r}"
    curve = _lr_curve(schedule, optimizer, epochs, steps_per_epoch)
    for epoch, lrs in enumerate(curve, 1):
        assert all(math.isfinite(lr) and lr >= 0 for lr in lrs), f"{name}: learning rates {lrs} in epoch {epoch}"
    ends = tuple(schedule.cycle_end_epochs)
    assert all(isinstance(e, int) and 1 <= e <= epochs for e in ends), f"{name}: cycle_end_epochs {ends}"
    assert list(ends) == sorted(set(ends)), f"{name}: cycle_end_epochs {ends} are not increasing"
    for end in ends:
        if end < epochs:
            assert curve[end][0] > curve[end - 1][-1], (
                f"{name}: no restart after cycle end {end}: lr {curve[end - 1][-1]} then {curve[end][0]}")
