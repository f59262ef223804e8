"""Training one matrix cell: seeded, resumable, checkpointed on the best validation metric."""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.data import Dataset
from harness.errors import HarnessError
from harness.model import split_outputs
from harness.preprocess import Preprocessing
from harness.train.components import Components, Selection, check_plateau_direction, set_backbone_frozen
from harness.train.evaluate import forward, make_batch
from harness.train.events import Events, no_events
from harness.train.resume import StateWriter, load_state
from harness.train.tensors import Normalizer, augment, eval_tensors, to_tensors
from harness.train.train_eval import PREFIX as TRAIN_EVAL
from harness.train.train_eval import score_split, subset_tensors

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


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


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _loss(model: torch.nn.Module, outputs: Any, batch: Any, loss_fn: Callable[..., torch.Tensor]):
    if hasattr(model, "compute_loss"):
        result = model.compute_loss(outputs, batch)
        loss, parts = result if isinstance(result, tuple) else (result, {})
        # the model's objective is not val.loss's function: score the batch with that too, for comparable curves
        with torch.no_grad():
            logits, _ = split_outputs(outputs)
            return loss, {**parts, "eval_loss": float(loss_fn(logits.float(), batch.labels))}
    logits, _ = split_outputs(outputs)
    return loss_fn(logits.float(), batch.labels), {}


def batch_slices(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batch boundaries; a last batch of one sample joins the one before (BatchNorm needs two)."""
    bounds = [(lo, min(lo + batch_size, n)) for lo in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


class Trainer:
    """The loop over epochs for one cell; ``state()`` / ``restore()`` make it resumable."""

    events: Events = staticmethod(no_events)  # the lifecycle hooks' listener (harness.train.events)

    def __init__(self, c: Components, dataset: Dataset, config: dict[str, Any], select_by: str,
                 device: torch.device, generator: torch.Generator):
        self.c, self.dataset, self.train, self.device, self.generator = c, dataset, config["train"], device, generator
        self.preprocessing = Preprocessing.from_config(config)  # the model's, recorded in config.json
        self.normalize = Normalizer(device, self.preprocessing)
        self.tensors = {"train": to_tensors(dataset.train), "val": eval_tensors(dataset.val, self.preprocessing)}
        subset = subset_tensors(dataset.train, self.train, int(config.get("seed", 0)), self.preprocessing)
        if subset is not None:  # scored each epoch like validation (harness.train.train_eval)
            self.tensors[TRAIN_EVAL] = subset
        stopping = self.train.get("early_stopping") or {}
        self.selection = Selection(select_by, stopping.get("patience"), float(stopping.get("min_delta", 0.0)))
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # epochs finished
        self.stopped = False
        self.trainable = {id(p): p.requires_grad for p in c.model.parameters()}
        self.scaler = torch.amp.GradScaler("cuda") if self.train.get("precision") == "fp16" and device.type == "cuda" \
            else None
        check_plateau_direction(c.schedule, select_by)

    def train_epoch(self, tick: Callable[[], None]) -> dict[str, float]:
        """One pass over the training split; returns mean loss and loss components."""
        c, train, data = self.c, self.train, self.tensors["train"]
        set_backbone_frozen(c.model, self.epoch < train.get("freeze_backbone_epochs", 0), self.trainable)
        c.model.train()
        n, epochs = len(data), train["epochs"]
        order = torch.randperm(n, generator=self.generator)
        slices = batch_slices(n, train["batch_size"])
        totals: dict[str, float] = {}
        for step, (lo, hi) in enumerate(slices):
            index = order[lo:hi]
            batch = make_batch(data, index, None, self.device, training=True, epoch=self.epoch,
                               num_epochs=epochs, progress=(self.epoch * len(slices) + step) / (epochs * len(slices)))
            raw, batch.masks = augment(batch.images, batch.masks, train.get("augment") or {}, self.generator,
                                       self.preprocessing.torch_mode)
            batch.images = self.normalize(raw)
            if train.get("channels_last") and self.device.type == "cuda":
                batch.images = batch.images.contiguous(memory_format=torch.channels_last)
            with autocast(self.device, train.get("precision", "fp32")):
                loss, parts = _loss(c.model, forward(c.model, batch), batch, c.loss_fn)
            if not torch.isfinite(loss):
                raise HarnessError(f"loss became {float(loss)} at epoch {self.epoch + 1}, step {step + 1}")
            self._step(loss)
            for key, value in {"loss": loss.item(), **parts}.items():
                totals[f"train.{key}"] = totals.get(f"train.{key}", 0.0) + float(value) * len(index)
            tick()
        return {k: v / n for k, v in totals.items()}

    def _step(self, loss: torch.Tensor) -> None:
        c = self.c
        c.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(c.optimizer)
        else:
            loss.backward()
        if self.train.get("grad_clip"):
            torch.nn.utils.clip_grad_norm_(c.model.parameters(), self.train["grad_clip"])
        if self.scaler is not None:
            self.scaler.step(c.optimizer)
            self.scaler.update()
        else:
            c.optimizer.step()
        if c.schedule.interval == "step":
            c.schedule.scheduler.step()

    def run_epoch(self, tick: Callable[[], None]) -> dict[str, Any]:
        """Train one epoch, validate, step the schedule, update the selection."""
        started = time.perf_counter()
        c, select_by = self.c, self.selection.metric
        logs: dict[str, Any] = {"epoch": self.epoch + 1, "lr": c.optimizer.param_groups[0]["lr"]}
        logs.update(self.train_epoch(tick))
        self.events("validation_start", split="val", epoch=self.epoch + 1)
        logs.update(self.score("val"))
        self.events("validation_end", split="val", epoch=self.epoch + 1,
                    metrics={k: v for k, v in logs.items() if k.startswith("val.")})
        if TRAIN_EVAL in self.tensors:
            logs.update(self.score(TRAIN_EVAL))
        if select_by not in logs:
            available = ", ".join(sorted(k for k in logs if k.startswith("val.")))
            raise HarnessError(f"select_by metric {select_by!r} is not computed; available: {available}")
        if c.schedule.interval == "epoch":
            if isinstance(c.schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                c.schedule.scheduler.step(logs[select_by])
            else:
                c.schedule.scheduler.step()
        self.epoch += 1
        logs["seconds"] = time.perf_counter() - started
        self.history.append(logs)
        self.stopped = self.selection.update(self.epoch, logs[select_by], c.model)
        return logs

    def score(self, split: str) -> dict[str, float]:
        """Loss, metrics and per-class scores of ``self.tensors[split]``, keys prefixed with ``split``."""
        c = self.c
        with autocast(self.device, self.train.get("precision", "fp32")):
            _, logs = score_split(c.model, self.tensors[split], self.dataset.classes, split, loss_fn=c.loss_fn,
                                  metric_fns=c.metric_fns, batch_size=self.train["eval_batch_size"],
                                  normalize=self.normalize, device=self.device, num_epochs=self.train["epochs"])
        return logs

    def state(self) -> dict[str, Any]:
        s = self.selection
        return {
            "epoch": self.epoch, "stopped": self.stopped, "model": self.c.model.state_dict(),
            "optimizer": self.c.optimizer.state_dict(), "scheduler": self.c.schedule.scheduler.state_dict(),
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "history": json.dumps(self.history), "best": s.best, "best_epoch": s.best_epoch, "stale": s.stale,
            "best_state": s.state, "scaler": self.scaler.state_dict() if self.scaler else {},
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.c.model.load_state_dict(state["model"])
        self.c.optimizer.load_state_dict(state["optimizer"])
        self.c.schedule.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.history = json.loads(state["history"])
        self.epoch, self.stopped = int(state["epoch"]), bool(state["stopped"])
        s = self.selection
        s.best, s.best_epoch, s.stale, s.state = float(state["best"]), int(state["best_epoch"]), int(state["stale"]), \
            dict(state["best_state"])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def fit(trainer: Trainer, on_epoch: Callable[[int, dict[str, Any]], None], tick: Callable[[], None],
        resume_path: Path | None = None, on_cycle_end: Callable[[int], None] | None = None,
        ) -> tuple[Selection, list[dict[str, Any]]]:
    """Train to the configured epochs (or early stop), saving resume points along the way.

    A resume point is saved after an epoch once ``train.resume_every`` seconds (30 by
    default; 0 = after every epoch) have passed since the last one.

    Args:
        on_cycle_end: called after each epoch that ends a warm-restart cycle (the
            schedule's ``harness.Schedule.cycle_end_epochs``), where snapshot ensembles take a member.
    """
    if resume_path is not None and (state := load_state(resume_path)) is not None:
        trainer.restore(state)
    writer = StateWriter(resume_path) if resume_path is not None else None
    every = float(trainer.train.get("resume_every", 30.0))
    last_saved = time.perf_counter()
    cycle_ends = set(trainer.c.schedule.cycle_end_epochs)
    try:
        while trainer.epoch < trainer.train["epochs"] and not trainer.stopped:
            logs = trainer.run_epoch(tick)
            on_epoch(trainer.epoch, logs)
            if on_cycle_end is not None and trainer.epoch in cycle_ends:
                on_cycle_end(trainer.epoch)
            # a resume point costs a copy of weights and optimizer state: not after every short epoch
            if writer is not None and time.perf_counter() - last_saved >= every:
                writer.submit(trainer.state())
                last_saved = time.perf_counter()
    finally:
        if writer is not None:
            writer.wait()
    if not trainer.selection.state:
        raise HarnessError(f"no epoch produced a usable {trainer.selection.metric} (all NaN)")
    return trainer.selection, trainer.history
