"""``[metrics.anomaly] fpr_limit`` end to end, and intervals of every anomaly image metric on a real run.

A small one-class model (per-pixel distance to the mean normal image, a real fit on the
synthetic defects) ranks beside a tiny classifier, so the run has stored anomaly maps and masks.
"""

from __future__ import annotations

import csv
import json

import pytest
import torch

from harness import OneClassModel, anomaly_metrics, hookimpl, load_run
from harness.config import load_experiment
from harness.errors import ConfigError
from harness.leaderboard import terminal_table
from harness.plugins import build_plugins
from harness.runner import publish, run_experiment

EXPERIMENT = """
[experiment]
name = "limits"
seeds = [0]
rank_by = "test.image_aupr"
resamples = 200
permutations = 200

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 48
n_val = 24
n_test = 40

[train]
epochs = 1
batch_size = 16
map_size = 16
optimizer = { name = "adam", lr = 1e-2 }

[[matrix.model]]
plugin = "mean-distance"

[[matrix.model]]
plugin = "toy-cnn"
"""


class MeanDistance(OneClassModel):
    """Anomaly map: squared distance of each pixel to the mean normal image; score: the map's maximum."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1))

    def setup(self, image_size: int) -> None:
        self.mean = torch.zeros(1, 3, image_size, image_size)

    def planned_epochs(self, epochs: int) -> int:
        return 1

    def fit_normal(self, batches, *, epochs, on_epoch) -> None:
        images = torch.cat(list(batches()))
        self.mean = images.mean(dim=0, keepdim=True)
        on_epoch(1, {"train.loss": 0.0})

    def score(self, images):
        maps = ((images - self.mean) ** 2).mean(dim=1)  # [B, H, W]
        return maps.flatten(1).amax(dim=1), maps


class MeanDistancePlugin:
    @hookimpl
    def harness_register_models(self, registry) -> None:
        registry.register("mean-distance", lambda num_classes: MeanDistance(), description="distance to the normal mean")


@pytest.fixture(scope="module")
def plugins():
    return build_plugins(extra=(MeanDistancePlugin(),))


def _run(tmp, plugins, extra: str = ""):
    path = tmp / "limits.toml"
    path.write_text(EXPERIMENT + extra)
    experiment = load_experiment(path, plugins)
    the_plan, root = run_experiment(experiment, plugins, runs_dir=tmp / "runs", show_progress=False, echo=lambda _: None)
    board = publish(experiment, the_plan, root, plugins, tmp / "lb" / "limits")
    return root, board


@pytest.fixture(scope="module")
def limited(tmp_path_factory, plugins):
    tmp = tmp_path_factory.mktemp("limits")
    root, board = _run(tmp, plugins, "\n[metrics.anomaly]\nfpr_limit = 0.1\n")
    return tmp, root, board


def _one_class(root):
    run = load_run(root)
    cell = next(c for c in run.done() if c.config["model"]["plugin"] == "mean-distance")
    return run, cell


def _stored(run, cell, limit):
    pred = run.prediction_set(cell.id, "test")
    return anomaly_metrics(pred.labels == 1, pred.scores, pred.maps["anomaly"], pred.masks, fpr_limit=limit)


def test_the_fpr_limit_reaches_metrics_json_and_the_leaderboard(limited, plugins):
    tmp, root, board = limited
    run, cell = _one_class(root)
    at_01, at_03 = _stored(run, cell, 0.1)["aupro"], _stored(run, cell, 0.3)["aupro"]
    assert cell.metrics["test.aupro"] == pytest.approx(at_01, abs=1e-12)
    assert abs(at_01 - at_03) > 1e-3  # the limit really changes the value on these maps
    assert json.loads((cell.path / "metric_options.json").read_text()) == {"anomaly": {"fpr_limit": 0.1}}
    results = json.loads((tmp / "lb" / "limits" / "results.json").read_text())
    row = next(r for r in results["rows"] if r["row"] == cell.row)
    assert row["metrics"]["test.aupro"]["mean"] == pytest.approx(at_01, abs=1e-12)

    ids = {c.id for c in run.done()}
    _, board = _run(tmp, plugins)  # the limit removed: nothing retrains, AUPRO back at 0.3
    again, cell = _one_class(root)
    assert {c.id for c in again.done()} == ids
    assert cell.metrics["test.aupro"] == pytest.approx(at_03, abs=1e-12)
    assert json.loads((cell.path / "metric_options.json").read_text()) == {}
    assert board.rows.set_index("row").at[cell.row, "test.aupro_mean"] == pytest.approx(at_03, abs=1e-12)


def test_aupr_and_f1_max_get_intervals_and_paired_tests(limited):
    tmp, root, board = limited
    board_dir = tmp / "lb" / "limits"
    results = json.loads((board_dir / "results.json").read_text())
    models = [r for r in results["rows"] if r["kind"] != "chance"]
    assert len(models) == 2
    for r in models:
        for metric in ("test.image_aupr", "test.f1_max", "test.image_auroc"):
            found = r["metrics"][metric]
            assert found["low"] < found["high"], (r["row"], metric)
            assert found["low"] <= found["mean"] <= found["high"], (r["row"], metric)
    second = models[1]
    paired = second["paired"]["test.image_aupr"]
    assert paired["method"].startswith("permutation") and 0 < paired["p"] <= 1
    assert paired["delta"] == pytest.approx(second["metrics"]["test.image_aupr"]["mean"]
                                            - models[0]["metrics"]["test.image_aupr"]["mean"])
    with open(board_dir / "results.csv", newline="") as f:
        lines = {line["row"]: line for line in csv.DictReader(f)}
    for r in models:
        for metric in ("test.image_aupr", "test.f1_max"):
            assert float(lines[r["row"]][f"{metric}_low"]) == pytest.approx(r["metrics"][metric]["low"])
    top = models[0]["metrics"]["test.image_aupr"]
    shown = f"{top['mean']:.4f}<span class=\"ci\">[{top['low']:.4f}, {top['high']:.4f}]</span>"
    page = next((board_dir / "rows").glob(f"{models[0]['row']}*.html")).read_text()
    assert shown in page and shown in (board_dir / "index.html").read_text()  # the ranking metric with its interval
    line = next(t for t in terminal_table(board).splitlines() if models[0]["row"] in t)
    assert f"{top['mean']:.4f}" in line and f"[{top['low']:.4f}, {top['high']:.4f}]" in line


def test_recorded_means_are_the_resampled_metrics_point(limited):
    tmp, root, board = limited
    results = json.loads((tmp / "lb" / "limits" / "results.json").read_text())
    notes = " ".join(results.get("notes", []))
    assert "image_aupr" not in notes and "f1_max" not in notes  # no "recorded mean differs" note
    run, cell = _one_class(root)
    from sklearn.metrics import average_precision_score

    pred = run.prediction_set(cell.id, "test")
    row = next(r for r in results["rows"] if r["row"] == cell.row)
    assert row["metrics"]["test.image_aupr"]["mean"] == pytest.approx(average_precision_score(pred.labels, pred.scores))


@pytest.mark.parametrize(("text", "message"), [
    ("fpr_limit = 0", "fpr_limit: must be"),
    ("fpr_limit = 1.5", "fpr_limit: must be"),
    ('fpr_limit = "0.1"', "fpr_limit: must be"),
    ("fpr_limt = 0.1", "Did you mean 'fpr_limit'?"),
])
def test_a_bad_limit_names_its_line(tmp_path, plugins, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(EXPERIMENT + "\n[metrics.anomaly]\n" + text + "\n")
    line = len(path.read_text().splitlines())
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    assert f"bad.toml:{line}: metrics.anomaly." in str(info.value) and message in str(info.value)


def test_an_unknown_family_gets_did_you_mean(tmp_path, plugins):
    path = tmp_path / "bad.toml"
    path.write_text(EXPERIMENT + "\n[metrics.anomaly_]\nfpr_limit = 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    assert "metrics.anomaly_" in str(info.value) and "Did you mean 'anomaly'?" in str(info.value)
    path.write_text(EXPERIMENT + "\n[metrics]\nanomaly = 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    assert "metrics: must hold one table per metric family" in str(info.value)
    path.write_text(EXPERIMENT + "\n[metrics.anomaly]\nfpr_limit = 1.0\n")
    assert load_experiment(path, plugins).metrics == {"anomaly": {"fpr_limit": 1.0}}
