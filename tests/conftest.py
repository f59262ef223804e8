"""Shared fixtures: no network, one plugin manager, tiny experiment files."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def plugins():
    from harness.plugins import build_plugins

    return build_plugins()


@pytest.fixture
def write_toml(tmp_path):
    """Write a dedented TOML text to a file in tmp_path and return its path."""

    def write(text: str, name: str = "exp.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


TINY = """
[experiment]
name = "{name}"
seeds = {seeds}

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 32
n_val = 16
n_test = 16

[train]
epochs = {epochs}
batch_size = 16
optimizer = {{ name = "adam", lr = 1e-2 }}
scheduler = {scheduler}
{train}
"""


@pytest.fixture
def tiny_experiment(write_toml):
    """An experiment over small third-party toy models; extra TOML is appended."""

    def make(models: str, *, name: str = "tiny", seeds: str = "[0]", epochs: int = 2,
             scheduler: str = '"cosine"', train: str = "") -> Path:
        text = TINY.format(name=name, seeds=seeds, epochs=epochs, scheduler=scheduler, train=train)
        return write_toml(text + textwrap.dedent(models), f"{name}.toml")

    return make
