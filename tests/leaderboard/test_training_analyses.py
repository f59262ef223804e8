"""Training analyses on the leaderboard: per-row history and per-class CSVs, the train
subset's wrong predictions, and the row page's section, from a real two-seed run; the
section in a real Chromium, screenshot and all."""

from __future__ import annotations

import base64
import csv
import io
import os
import struct
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_browser import CHROMIUM, DevTools, _errors, browser  # noqa: F401  (the fixture)

from harness import PredictionSet, load_run
from harness.config import load_experiment
from harness.leaderboard import build_leaderboard
from harness.leaderboard.figures.wrong import row_slug
from harness.metrics import classification_metrics
from harness.runner import run_experiment
from harness.store import atomic_write_json, write_predictions

EXPERIMENT = """
[experiment]
name = "analyses"
seeds = [0, 1]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 32
n_val = 16
n_test = 16

[train]
epochs = 3
batch_size = 16
optimizer = { name = "adam", lr = 1e-2 }
train_eval_samples = 24

[[matrix.model]]
plugin = "toy-cnn"
"""
ROW = "toy-cnn"


@pytest.fixture(scope="module")
def board(tmp_path_factory, plugins):
    tmp = tmp_path_factory.mktemp("analyses")
    (tmp / "analyses.toml").write_text(EXPERIMENT)
    experiment = load_experiment(tmp / "analyses.toml", plugins)
    _, root = run_experiment(experiment, plugins, runs_dir=tmp / "runs", show_progress=False, echo=lambda _: None)
    run = load_run(root)
    assert [c.status for c in run.cells.values()] == ["done", "done"]
    leaderboard = build_leaderboard(run, tmp / "board", rank_by="test.f1_macro", title="Analyses", n_resamples=200)
    return run, leaderboard, tmp / "board"


def _cells(run):
    return sorted(run.cells.values(), key=lambda c: c.config["seed"])


def test_history_csv_holds_every_epoch_of_every_seed_with_the_gap(board):
    run, _, out = board
    frame = pd.read_csv(out / "training" / f"{row_slug(ROW)}.csv", dtype={"seed": str})
    assert list(frame.columns[:7]) == ["seed", "cell", "epoch", "selected", "gap.loss", "gap.accuracy", "gap.f1_macro"]
    assert len(frame) == 6 and list(frame["seed"]) == ["0", "0", "0", "1", "1", "1"]
    for cell in _cells(run):
        mine = frame[frame["cell"] == cell.id]
        assert list(mine["epoch"]) == [1, 2, 3]
        assert list(mine["selected"]) == [e == cell.metrics["best_epoch"] for e in (1, 2, 3)]
        for (_, line), entry in zip(mine.iterrows(), cell.history):
            for key in ("train.loss", "train_eval.loss", "val.f1_macro", "train_eval.accuracy_defect", "val.loss_normal"):
                assert line[key] == pytest.approx(entry[key], rel=1e-5)
            assert line["gap.accuracy"] == pytest.approx(entry["train_eval.accuracy"] - entry["val.accuracy"], abs=1e-5)
            assert line["gap.f1_macro"] == pytest.approx(entry["train_eval.f1_macro"] - entry["val.f1_macro"], abs=1e-5)
            assert line["gap.loss"] == pytest.approx(entry["val.loss"] - entry["train_eval.loss"], rel=1e-5, abs=1e-6)


def test_per_class_csv_pairs_test_intervals_with_the_selected_epoch(board):
    run, leaderboard, out = board
    frame = pd.read_csv(out / "per_class" / f"{row_slug(ROW)}.csv").set_index("class")
    cells = _cells(run)
    assert list(frame.index) == list(cells[0].classes)
    detail = leaderboard.details[ROW]
    intervals = leaderboard.intervals[ROW]
    selected = [c.history[int(c.metrics["best_epoch"]) - 1] for c in cells]
    for name in cells[0].classes:
        line = frame.loc[name]
        for key in ("precision", "recall", "f1"):
            # the row's test score is the mean over seeds of each seed's sklearn-checked metrics.json value
            assert line[f"test.{key}"] == pytest.approx(np.mean([c.metrics[f"test.{key}_{name}"] for c in cells]), abs=1e-5)
            assert line[f"test.{key}"] == pytest.approx(detail.per_class.loc[name, key], abs=1e-5)
            assert line[f"test.{key}_low"] == pytest.approx(intervals[f"test.{key}_{name}"].low, abs=1e-5)
            assert line[f"test.{key}_high"] == pytest.approx(intervals[f"test.{key}_{name}"].high, abs=1e-5)
        for metric in ("accuracy", "loss"):
            train = np.mean([e[f"train_eval.{metric}_{name}"] for e in selected])
            val = np.mean([e[f"val.{metric}_{name}"] for e in selected])
            assert line[f"train_eval.{metric}"] == pytest.approx(train, rel=1e-5, abs=1e-6)
            assert line[f"val.{metric}"] == pytest.approx(val, rel=1e-5, abs=1e-6)
            expected_gap = val - train if metric == "loss" else train - val
            assert line[f"gap.{metric}"] == pytest.approx(expected_gap, rel=1e-4, abs=1e-5)


def test_wrong_predictions_on_the_training_subset_sit_beside_val_and_test(board):
    run, leaderboard, out = board
    assert set(leaderboard.wrong_files[ROW]) == {"train", "val", "test"}
    with open(out / leaderboard.wrong_files[ROW]["train"], newline="") as f:
        lines = list(csv.DictReader(f))
    expected = 0
    for cell in _cells(run):
        frame = run.predictions(cell.id, "train")
        assert len(frame) == 24
        proba = frame[[f"prob_{c}" for c in cell.classes]].to_numpy()
        expected += int((proba.argmax(axis=1) != frame["label"].to_numpy()).sum())
    assert len(lines) == expected
    confidences = [float(line["confidence"]) for line in lines]
    assert confidences == sorted(confidences, reverse=True)


def test_the_row_page_has_the_section_with_curves_bars_and_links(board):
    _, _, out = board
    page = (out / "rows" / f"{row_slug(ROW)}.html").read_text()
    section = page[page.index('<section id="training">'):]
    section = section[: section.index("</section>")]
    assert section.count("<figure>") == 3
    for href in (f"../training/{row_slug(ROW)}.csv", f"../per_class/{row_slug(ROW)}.csv",
                 f"../wrong/{row_slug(ROW)}_train.csv"):
        assert f'href="{href}"' in section
        assert (out / "rows" / href).resolve().exists()
    assert section.count("<tr>") == 1 + 3 + 1 + 2  # two heads, loss/accuracy/macro F1, two classes
    assert 'href="#training"' in page


def test_rows_without_train_subset_metrics_have_no_section_and_no_files(tmp_path):
    """A history without ``train_eval.*`` (one-class rows, older cells, ``train_eval_samples = 0``)."""
    classes = ("normal", "defect")
    labels = np.arange(20) % 2
    proba = np.stack([1 - (0.3 + 0.4 * labels), 0.3 + 0.4 * labels], axis=1)
    cell = tmp_path / "runs" / "plain" / "plain-s0"
    atomic_write_json(cell / "config.json", {"classes": list(classes), "row": "plain", "seed": 0, "model": {"plugin": "x"}})
    atomic_write_json(cell / "history.json", [{"epoch": 1, "train.loss": 0.5, "val.loss": 0.6, "val.f1_macro": 0.7}])
    metrics = {f"test.{k}": v for k, v in classification_metrics(labels, proba, classes).items()}
    atomic_write_json(cell / "metrics.json", metrics | {"best_epoch": 1})
    write_predictions(cell, "test", PredictionSet(classes, tuple(f"i{i}" for i in range(20)), labels, proba))
    atomic_write_json(cell / "status.json", {"status": "done"})
    out = tmp_path / "board"
    build_leaderboard(load_run(tmp_path / "runs" / "plain"), out, rank_by="test.f1_macro", title="Plain", n_resamples=50)
    page = (out / "rows" / f"{row_slug('plain')}.html").read_text()
    assert '<section id="per-class">' in page and '<section id="training">' not in page
    assert not (out / "training").exists() and not (out / "per_class").exists()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack("!II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_the_section_renders_in_chromium(board, browser: DevTools, tmp_path: Path) -> None:  # noqa: F811
    _, _, out = board
    for domain in ("Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", url=(out / "rows" / f"{row_slug(ROW)}.html").resolve().as_uri())
    browser.wait_for("Page.loadEventFired")
    sizes = browser.evaluate(
        "Array.from(document.querySelectorAll('#training figure img')).map(i => [i.naturalWidth, i.naturalHeight, i.width])")
    assert len(sizes) == 3 and all(w > 300 and h > 200 and 0 < shown <= 1400 for w, h, shown in sizes), sizes
    captions = browser.evaluate("Array.from(document.querySelectorAll('#training figcaption')).map(c => c.textContent)")
    assert "against validation" in captions[0] and "precision, recall and F1" in captions[1]
    browser.evaluate("document.getElementById('training').scrollIntoView({block: 'start'})")
    time.sleep(0.2)
    box = browser.evaluate("(() => { const r = document.getElementById('training').getBoundingClientRect();"
                           " return [r.x, r.y + window.scrollY, r.width, r.height]; })()")
    shot = base64.b64decode(browser.call(
        "Page.captureScreenshot", format="png", captureBeyondViewport=True,
        clip={"x": 0, "y": box[1], "width": 1400, "height": min(box[3], 2400), "scale": 1})["data"])
    (tmp_path / "training-section.png").write_bytes(shot)
    if os.environ.get("HARNESS_SCREENSHOT_DIR"):  # to look at it: the figures are checked by eye, not here
        keep = Path(os.environ["HARNESS_SCREENSHOT_DIR"])
        keep.mkdir(parents=True, exist_ok=True)
        (keep / "training-section.png").write_bytes(shot)
    width, height = _png_size(shot)
    assert width == 1400 and height >= 600
    # the screenshot is not blank: the figures' coloured lines and bars are in it
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=np.int16)
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 60
    assert coloured.mean() > 0.005, coloured.mean()
    time.sleep(0.2)
    browser.call("Runtime.evaluate", expression="1")
    assert _errors(browser.events) == []
