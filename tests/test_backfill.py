"""Settings applied afterwards: adding [tta] to a finished experiment retrains nothing."""

from __future__ import annotations

import numpy as np

from harness.config import load_experiment
from harness.runner import publish, run_experiment
from harness.store import load_run
from harness.tta.store import load_tta

MODELS = """
[[matrix.model]]
plugin = "toy-cnn"
width = [4, 8]
"""
TTA = """
[tta]
views = ["identity", "hflip", "vflip"]
merge = "mean"
"""


def _run(path, plugins, runs, boards):
    experiment = load_experiment(path, plugins)
    lines: list[str] = []
    the_plan, root = run_experiment(experiment, plugins, runs_dir=runs, show_progress=False, echo=lines.append)
    publish(experiment, the_plan, root, plugins, boards / experiment.name, echo=lines.append)
    return the_plan, root, lines


def test_tta_added_later_comes_from_the_checkpoints_and_equals_tta_from_the_start(
        tiny_experiment, plugins, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    plain = tiny_experiment(MODELS, name="later")
    the_plan, root, _ = _run(plain, plugins, tmp_path / "runs", tmp_path / "boards")
    trained = {c.id: (root / c.id / "checkpoint.safetensors").stat().st_mtime_ns for c in the_plan.cells}
    assert all(not (root / c / "tta_test.npz").exists() for c in trained)

    plain.write_text(plain.read_text() + TTA)
    the_plan2, _, lines = _run(plain, plugins, tmp_path / "runs", tmp_path / "boards")
    assert [c.id for c in the_plan2.cells] == list(trained)  # [tta] is not in the cell key
    assert sum("skipped (done)" in line for line in lines) == 2 and not any("epoch 1/" in line for line in lines)
    assert sum("computed from the stored checkpoint" in line for line in lines) == 2
    assert {c: (root / c / "checkpoint.safetensors").stat().st_mtime_ns for c in trained} == trained

    fresh = tiny_experiment(MODELS + TTA, name="fresh")
    the_plan3, root3, _ = _run(fresh, plugins, tmp_path / "runs", tmp_path / "boards")
    for later, start in zip(the_plan2.cells, the_plan3.cells):
        for split in ("val", "test"):
            a, b = load_tta(root / later.id, split), load_tta(root3 / start.id, split)
            assert a.views == b.views == ("identity", "hflip", "vflip")
            assert a.sample_ids == b.sample_ids
            np.testing.assert_allclose(a.proba, b.proba, rtol=0, atol=1e-6)
    rows = {c.row for c in load_run(root).cells.values()}
    assert any(r.startswith("tta") or "tta" in r for r in rows)


class _ConfidenceMetric:
    """A metric plugin installed after the cells finished."""

    @staticmethod
    def harness_register_metrics(registry) -> None:  # noqa: ANN001
        registry.register("mean-confidence", lambda pred: {"mean_confidence": float(pred.proba.max(axis=1).mean())})


def test_a_metric_plugin_installed_later_retrains_nothing_and_fills_in_its_metric(
        tiny_experiment, plugins, tmp_path, monkeypatch):
    from harness import hookimpl
    from harness.plugins import build_plugins

    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    path = tiny_experiment(MODELS, name="metric")
    the_plan, root, _ = _run(path, plugins, tmp_path / "runs", tmp_path / "boards")
    plugin = type("ConfidencePlugin", (), {"harness_register_metrics": staticmethod(
        hookimpl(_ConfidenceMetric.harness_register_metrics))})()
    more = build_plugins(extra=(plugin,))
    the_plan2, _, lines = _run(path, more, tmp_path / "runs", tmp_path / "boards")
    assert [c.id for c in the_plan2.cells] == [c.id for c in the_plan.cells]  # the new plugin is not in the key
    assert sum("skipped (done)" in line for line in lines) == 2
    run = load_run(root)
    for cell in the_plan.cells:
        for split in ("val", "test"):
            expected = float(run.prediction_set(cell.id, split).proba.max(axis=1).mean())
            assert run.cells[cell.id].metrics[f"{split}.mean_confidence"] == expected
    # a metric that selects checkpoints does change what a cell trains: then its plugin is in the key
    assert "ConfidencePlugin" in more.result_versions(["val.mean_confidence"])
    assert "ConfidencePlugin" not in more.result_versions(["val.f1_macro"])
