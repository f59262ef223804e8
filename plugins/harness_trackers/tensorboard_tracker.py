"""The ``tensorboard`` tracker: one event-file folder per cell, ``<log_dir>/<experiment>/<cell id>``.

Options: ``log_dir`` (``"tensorboard"``). Every epoch's numbers are scalars with
``step = epoch`` (``train.loss``, ``val.loss``, ``val.f1_macro``, ``lr``, ...); the final
metrics are scalars ``final/<name>``; the resolved config is a text summary. View with
``tensorboard --logdir tensorboard``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import HarnessError, TrackedCell, Tracker
from harness import options as opt

OPTIONS = opt.Options("tracker 'tensorboard'", log_dir=opt.Str("tensorboard", doc="where event files go"))


class TensorBoardTracker(Tracker):
    """Writes TensorBoard event files with torch's ``SummaryWriter``."""

    def __init__(self, **options: Any) -> None:
        self.settings = OPTIONS.resolve(options)
        self.base = Path(self.settings["log_dir"])
        self.writers: dict[str, Any] = {}

    def start_experiment(self, experiment: str, root: Path) -> None:
        self.base = Path(self.settings["log_dir"]).resolve() / experiment

    def _writer(self, cell: TrackedCell) -> Any:
        if cell.id not in self.writers:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise HarnessError("the tensorboard tracker needs TensorBoard: pip install 'harness[tracking]'") from exc
            writer = SummaryWriter(log_dir=str(self.base / cell.id))
            writer.add_text("config", "```\n" + json.dumps(cell.config, indent=2, default=str) + "\n```")
            self.writers[cell.id] = writer
        return self.writers[cell.id]

    def _close(self, cell: TrackedCell) -> None:
        writer = self.writers.pop(cell.id, None)
        if writer is not None:
            writer.close()

    def start_cell(self, cell: TrackedCell) -> None:
        self._close(cell)
        self._writer(cell)

    def log_epoch(self, cell: TrackedCell, epoch: int, logs: dict[str, Any]) -> None:
        writer = self._writer(cell)
        for key, value in logs.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                writer.add_scalar(key, float(value), epoch)
        writer.flush()

    def finish_cell(self, cell: TrackedCell, metrics: dict[str, float], files: list[Path]) -> None:
        writer = self._writer(cell)
        step = int(metrics.get("epochs_run", 0))
        for key, value in metrics.items():
            writer.add_scalar(f"final/{key}", float(value), step)
        self._close(cell)

    def fail_cell(self, cell: TrackedCell, error: str) -> None:
        self._writer(cell).add_text("error", error)
        self._close(cell)

    def log_row(self, cell: TrackedCell, metrics: dict[str, float], files: list[Path]) -> None:
        self.finish_cell(cell, metrics, files)

    def end_experiment(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
