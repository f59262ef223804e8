"""Training one matrix cell: seeded, checkpointed on the best validation metric."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from harness.data import Dataset
from harness.errors import HarnessError
from harness.metrics import lower_is_better
from harness.model import split_outputs
from harness.train.evaluate import compute_metrics, forward, make_batch, predict
from harness.train.tensors import Normalizer, SplitTensors, augment, to_tensors


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HarnessError(f'device "{name}" was asked for but CUDA is not available here; use "cpu" or "auto"')
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


@dataclass
class Components:
    """What the plugins built for one cell."""

    model: torch.nn.Module
    loss_fn: Callable[..., torch.Tensor]
    optimizer: torch.optim.Optimizer
    schedule: Any
    metric_fns: list[Callable[..., dict[str, float]]]


def build_components(config: dict[str, Any], dataset: Dataset, registries: dict[str, Any], steps_per_epoch: int,
                     device: torch.device) -> Components:
    train = config["train"]
    model_cfg = {k: v for k, v in config["model"].items() if k not in ("plugin", "name")}
    model = registries["models"].get(config["model"]["plugin"])(num_classes=len(dataset.classes), **model_cfg)
    if not isinstance(model, torch.nn.Module):
        raise HarnessError(f"model plugin {config['model']['plugin']!r} returned {type(model).__name__}, not an nn.Module")
    model.to(device)

    def options(component: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in component.items() if k != "name"}

    counts = dataset.train.class_counts(len(dataset.classes))
    loss_fn = registries["losses"].get(train["loss"]["name"])(class_counts=counts, **options(train["loss"]))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = registries["optimizers"].get(train["optimizer"]["name"])(params, **options(train["optimizer"]))
    schedule = registries["schedulers"].get(train["scheduler"]["name"])(
        optimizer, epochs=train["epochs"], steps_per_epoch=steps_per_epoch, **options(train["scheduler"]))
    metric_fns = [entry.factory for entry in registries["metrics"]]
    return Components(model, loss_fn, optimizer, schedule, metric_fns)


def check_plateau_direction(schedule: Any, select_by: str) -> None:
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


def _loss(model: torch.nn.Module, outputs: Any, batch: Any, loss_fn: Callable[..., torch.Tensor]):
    if hasattr(model, "compute_loss"):
        result = model.compute_loss(outputs, batch)
        return result if isinstance(result, tuple) else (result, {})
    logits, _ = split_outputs(outputs)
    return loss_fn(logits, batch.labels), {}


def train_epoch(c: Components, data: SplitTensors, train: dict[str, Any], epoch: int, generator: torch.Generator,
                normalize: Normalizer, device: torch.device, tick: Callable[[], None]) -> dict[str, float]:
    """One pass over the training split; returns mean loss and loss components."""
    c.model.train()
    n, bs, epochs = len(data), train["batch_size"], train["epochs"]
    order = torch.randperm(n, generator=generator)
    steps = math.ceil(n / bs)
    totals: dict[str, float] = {}
    for step in range(steps):
        index = order[step * bs:(step + 1) * bs]
        batch = make_batch(data, index, normalize, device, training=True, epoch=epoch, num_epochs=epochs,
                           progress=(epoch * steps + step) / (epochs * steps))
        raw = data.images[index].to(device)
        raw, masks = augment(raw, batch.masks, train.get("augment") or {}, generator)
        batch.images, batch.masks = normalize(raw), masks
        loss, parts = _loss(c.model, forward(c.model, batch), batch, c.loss_fn)
        if not torch.isfinite(loss):
            raise HarnessError(f"loss became {float(loss)} at epoch {epoch + 1}, step {step + 1}")
        c.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train.get("grad_clip"):
            torch.nn.utils.clip_grad_norm_(c.model.parameters(), train["grad_clip"])
        c.optimizer.step()
        if c.schedule.interval == "step":
            c.schedule.scheduler.step()
        for key, value in {"loss": float(loss), **parts}.items():
            totals[f"train.{key}"] = totals.get(f"train.{key}", 0.0) + float(value) * len(index)
        tick()
    return {k: v / n for k, v in totals.items()}


def fit(c: Components, dataset: Dataset, config: dict[str, Any], select_by: str, device: torch.device,
        generator: torch.Generator, on_epoch: Callable[[int, dict[str, Any]], None], tick: Callable[[], None],
        ) -> tuple[Selection, list[dict[str, Any]]]:
    """Train for the configured epochs with selection and early stopping."""
    train = config["train"]
    normalize = Normalizer(device)
    tensors = {s: to_tensors(dataset.split(s)) for s in ("train", "val")}
    stopping = train.get("early_stopping") or {}
    selection = Selection(select_by, stopping.get("patience"), float(stopping.get("min_delta", 0.0)))
    check_plateau_direction(c.schedule, select_by)
    history = []
    for epoch in range(train["epochs"]):
        started = time.perf_counter()
        logs: dict[str, Any] = {"epoch": epoch + 1, "lr": c.optimizer.param_groups[0]["lr"]}
        logs.update(train_epoch(c, tensors["train"], train, epoch, generator, normalize, device, tick))
        pred, val_loss = predict(c.model, tensors["val"], dataset.classes, batch_size=train["eval_batch_size"],
                                 normalize=normalize, device=device, loss_fn=c.loss_fn, num_epochs=train["epochs"])
        logs["val.loss"] = val_loss
        logs.update(compute_metrics(pred, c.metric_fns, "val"))
        if select_by not in logs:
            available = ", ".join(sorted(k for k in logs if k.startswith("val.")))
            raise HarnessError(f"select_by metric {select_by!r} is not computed; available: {available}")
        if c.schedule.interval == "epoch":
            if isinstance(c.schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                c.schedule.scheduler.step(logs[select_by])
            else:
                c.schedule.scheduler.step()
        logs["seconds"] = time.perf_counter() - started
        history.append(logs)
        stop = selection.update(epoch + 1, logs[select_by], c.model)
        on_epoch(epoch + 1, logs)
        if stop:
            break
    if not selection.state:
        raise HarnessError(f"no epoch produced a usable {select_by} (all NaN)")
    return selection, history
