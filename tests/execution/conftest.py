"""Fixtures: an 8-cell experiment and its single-process reference run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from multiworker import EXPERIMENT, run


@pytest.fixture
def eight_cells(tmp_path):
    """Write an experiment of 8 single-threaded toy cells (2 widths x 4 seeds), plus extra TOML."""

    def make(name: str = "eight", extra: str = "", epochs: int = 12) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(EXPERIMENT.format(name=name, epochs=epochs) + textwrap.dedent(extra), encoding="utf-8")
        return path

    return make


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """One single-process run of the 8-cell experiment: what every other way of running must equal."""
    tmp = tmp_path_factory.mktemp("reference")
    path = tmp / "eight.toml"
    path.write_text(EXPERIMENT.format(name="eight", epochs=12), encoding="utf-8")
    done = run(path, tmp / "runs", tmp / "lb", cwd=tmp)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp / "runs" / "eight", tmp / "lb" / "eight", done.stdout
