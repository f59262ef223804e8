"""What the plugins build for a cell, and how the best epoch is chosen."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.data import Dataset
from harness.errors import HarnessError
from harness.metrics import lower_is_better
from harness.schedule import Schedule


@dataclass
class Components:
    """What the plugins built for one cell."""

    model: torch.nn.Module
    loss_fn: Callable[..., torch.Tensor]
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    metric_fns: list[Callable[..., dict[str, float]]]


def _options(component: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in component.items() if k != "name"}


def build_model(config: dict[str, Any], num_classes: int, registries: dict[str, Any]) -> torch.nn.Module:
    options = {k: v for k, v in config["model"].items() if k not in ("plugin", "name")}
    model = registries["models"].get(config["model"]["plugin"])(num_classes=num_classes, **options)
    if not isinstance(model, torch.nn.Module):
        raise HarnessError(f"model plugin {config['model']['plugin']!r} returned {type(model).__name__}, not an nn.Module")
    return model


def build_components(config: dict[str, Any], dataset: Dataset, registries: dict[str, Any], steps_per_epoch: int,
                     device: torch.device, model: torch.nn.Module | None = None) -> Components:
    """Model (unless given, already built), loss, optimizer, schedule and metric functions of a cell."""
    train = config["train"]
    model = (model if model is not None else build_model(config, len(dataset.classes), registries)).to(device)
    if train.get("channels_last") and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    counts = dataset.train.class_counts(len(dataset.classes))
    loss_fn = registries["losses"].get(train["loss"]["name"])(class_counts=counts, **_options(train["loss"]))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = registries["optimizers"].get(train["optimizer"]["name"])(params, **_options(train["optimizer"]))
    schedule = registries["schedulers"].get(train["scheduler"]["name"])(
        optimizer, epochs=train["epochs"], steps_per_epoch=steps_per_epoch, **_options(train["scheduler"]))
    if not isinstance(schedule, Schedule):
        raise HarnessError(f"scheduler plugin {train['scheduler']['name']!r} returned {type(schedule).__name__}, "
                           "not a harness.Schedule")
    metric_fns = [entry.factory for entry in registries["metrics"]]
    return Components(model, loss_fn, optimizer, schedule, metric_fns)


def check_plateau_direction(schedule: Schedule, select_by: str) -> None:
    """A plateau scheduler must watch the selection metric in its own direction."""
    if not isinstance(schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return
    wanted = "min" if lower_is_better(select_by) else "max"
    if schedule.monitor_mode != wanted:
        raise HarnessError(f"scheduler plateau watches {select_by!r} with mode = {schedule.monitor_mode!r}, but that "
                           f"metric is better when {'lower' if wanted == 'min' else 'higher'}: set mode = {wanted!r}")


@dataclass
class Selection:
    """Tracks the best epoch by the selection metric and decides early stopping."""

    metric: str
    patience: int | None
    min_delta: float
    best: float = math.nan
    best_epoch: int = 0
    stale: int = 0
    state: dict[str, torch.Tensor] = field(default_factory=dict)

    def update(self, epoch: int, value: float, model: torch.nn.Module) -> bool:
        """Record an epoch; True when training should stop early."""
        sign = -1.0 if lower_is_better(self.metric) else 1.0
        improved = math.isnan(self.best) or sign * (value - self.best) > self.min_delta
        if improved and not math.isnan(value):
            self.best, self.best_epoch, self.stale = value, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.stale += 1
        return self.patience is not None and self.stale >= self.patience


def head_parameters(model: torch.nn.Module) -> set[int]:
    """Ids of the classifier head's parameters: timm's ``get_classifier()``, else the last Linear."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if not isinstance(head, torch.nn.Module):
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        head = linears[-1] if linears else None
    return {id(p) for p in head.parameters()} if head is not None else set()


def set_backbone_frozen(model: torch.nn.Module, frozen: bool, trainable: dict[int, bool]) -> None:
    """Freeze everything but the head (progressive unfreezing), or restore what was trainable."""
    head = head_parameters(model)
    for p in model.parameters():
        p.requires_grad_(trainable[id(p)] and (not frozen or id(p) in head))
