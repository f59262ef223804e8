"""What the training benchmarks share: random in-memory images and a cell's trainer.

``train_eval.py`` and ``train_step.py`` import it (run as scripts, ``benchmarks/`` is on
``sys.path``), after setting ``HF_HUB_OFFLINE``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.data import Dataset, Split
from harness.train.components import build_components
from harness.train.loop import Trainer, batch_slices, seed_everything


def make_dataset(n_train: int, n_val: int, size: int) -> Dataset:
    """Two classes of random ``size`` px RGB images; the test split is as large as val."""
    rng = np.random.default_rng(0)

    def split(name: str, n: int) -> Split:
        images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
        return Split(images, rng.integers(0, 2, size=n), tuple(f"{name}/{i}" for i in range(n)))

    return Dataset(("normal", "defect"), split("train", n_train), split("val", n_val), split("test", n_val))


def cell_config(arch: str, epochs: int, batch_size: int, *, optimizer: dict[str, Any], augment: dict[str, Any],
                train_eval_samples: int) -> dict[str, Any]:
    """A timm cell's resolved config: CE loss, no scheduler, seed 0."""
    return {
        "model": {"plugin": "timm", "arch": arch},
        "train": {"epochs": epochs, "batch_size": batch_size, "eval_batch_size": 128, "optimizer": optimizer,
                  "scheduler": {"name": "none"}, "loss": {"name": "ce"}, "augment": augment,
                  "train_eval_samples": train_eval_samples},
        "seed": 0,
    }


def cell_trainer(config: dict[str, Any], dataset: Dataset, plugins: Any) -> tuple[Trainer, int]:
    """The CPU trainer ``run_cell`` builds for ``config`` (seeded first), and its steps per epoch."""
    device = torch.device("cpu")
    generator = seed_everything(config["seed"])
    steps = len(batch_slices(len(dataset.train), config["train"]["batch_size"]))
    trainer = Trainer(build_components(config, dataset, plugins.registries, steps, device), dataset, config,
                      "val.f1_macro", device, generator)
    return trainer, steps
