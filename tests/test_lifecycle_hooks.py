"""Lifecycle hooks of a running cell, in the order a plugin sees them."""

from __future__ import annotations

import pytest

from harness import hookimpl
from harness.config.validate import load_experiment
from harness.plugins import build_plugins
from harness.runner import run_experiment


class Recorder:
    """A plugin that writes down every lifecycle call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    def harness_cell_start(self, cell):
        self.calls.append(("cell_start", cell.id))

    @hookimpl
    def harness_fit_start(self, cell, epochs):
        self.calls.append(("fit_start", cell.id, epochs))

    @hookimpl
    def harness_validation_start(self, cell, split, epoch):
        self.calls.append(("validation_start", split, epoch))

    @hookimpl
    def harness_validation_end(self, cell, split, epoch, metrics):
        assert metrics and all(k.startswith(f"{split}.") for k in metrics)
        self.calls.append(("validation_end", split, epoch, round(metrics[f"{split}.accuracy"], 6)))

    @hookimpl
    def harness_epoch_end(self, cell, epoch, logs):
        self.calls.append(("epoch_end", epoch))

    @hookimpl
    def harness_fit_end(self, cell, history):
        self.calls.append(("fit_end", len(history)))

    @hookimpl
    def harness_cell_finish(self, cell, metrics):
        self.calls.append(("cell_finish", round(metrics["test.accuracy"], 6)))


def test_hooks_bracket_fitting_and_every_validation(tiny_experiment, tmp_path):
    path = tiny_experiment('[[matrix.model]]\nplugin = "timm"\narch = "resnet10t"\n', epochs=2)
    recorder = Recorder()
    plugins = build_plugins(extra=(recorder,))
    _, root = run_experiment(load_experiment(path, plugins), plugins, runs_dir=tmp_path / "runs", show_progress=False,
                             echo=lambda line: None)
    names = [c[0] for c in recorder.calls]
    assert names == ["cell_start", "fit_start",
                     "validation_start", "validation_end", "epoch_end",
                     "validation_start", "validation_end", "epoch_end",
                     "fit_end", "validation_start", "validation_end", "validation_start", "validation_end",
                     "cell_finish"]
    assert [c[1:3] for c in recorder.calls if c[0] == "validation_start"] == [("val", 1), ("val", 2), ("val", None),
                                                                              ("test", None)]
    assert [c[2] for c in recorder.calls if c[0] == "fit_start"] == [2]  # the epochs the fit will run
    from harness import load_run

    (cell,) = load_run(root).done()
    final = {c[1]: c[3] for c in recorder.calls if c[0] == "validation_end" and c[2] is None}
    assert final == {"val": pytest.approx(cell.metrics["val.accuracy"], abs=1e-6),
                     "test": pytest.approx(cell.metrics["test.accuracy"], abs=1e-6)}
    assert recorder.calls[-1] == ("cell_finish", round(cell.metrics["test.accuracy"], 6))
