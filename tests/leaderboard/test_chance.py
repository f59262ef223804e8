"""Chance rows: scikit-learn's DummyClassifier on the same labels, and the tests against them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

from harness import PredictionSet
from harness.leaderboard import build_leaderboard
from harness.leaderboard.pages.terminal import terminal_table
from harness.leaderboard.ranking.aggregate import summarise
from harness.leaderboard.ranking.chance import (
    MAJORITY,
    STRATIFIED,
    majority_proba,
    stratified_proba,
    versus_chance,
)
from harness.leaderboard.ranking.samples import PredictionStore
from harness.leaderboard.ranking.statistics import add_statistics
from harness.store import atomic_write_json, load_run, write_predictions

CLASSES = ("normal", "defect")
TRAIN_COUNTS = [70, 50]  # more normal than defect: the majority class is "normal"


def _dummy(strategy: str, counts: list[int], n: int, seed: int = 0) -> np.ndarray:
    y_train = np.repeat(np.arange(len(counts)), counts)
    rng = np.random.default_rng(1)
    model = DummyClassifier(strategy=strategy, random_state=seed).fit(rng.normal(size=(len(y_train), 3)), y_train)
    return model.predict_proba(np.zeros((n, 3)))


@pytest.mark.parametrize("counts", [[70, 50], [5, 5], [3, 9, 4], [6, 0, 2]])
@pytest.mark.parametrize("seed", [0, 7])
def test_probabilities_are_dummy_classifiers(counts: list[int], seed: int) -> None:
    expected_majority = _dummy("most_frequent", counts, 40)
    expected_stratified = _dummy("stratified", counts, 40, seed)
    present = [k for k, c in enumerate(counts) if c > 0]  # DummyClassifier only knows the classes it saw
    np.testing.assert_array_equal(majority_proba(counts, 40)[:, present], expected_majority)
    np.testing.assert_array_equal(stratified_proba(counts, 40, seed)[:, present], expected_stratified)
    assert majority_proba(counts, 40).sum(axis=1).tolist() == [1.0] * 40


def _write_cell(root: Path, cell_id: str, row: str, seed: int, pred: PredictionSet, counts: list[int] | None) -> None:
    d = root / cell_id
    config = {"classes": list(CLASSES), "row": row, "seed": seed, "model": {"plugin": "toy", "name": row}}
    if counts is not None:
        config["train_class_counts"] = counts
    atomic_write_json(d / "config.json", config)
    labels, proba = pred.labels, pred.proba
    pred_class = proba.argmax(axis=1)
    atomic_write_json(d / "metrics.json", {
        "test.accuracy": accuracy_score(labels, pred_class),
        "test.f1_macro": f1_score(labels, pred_class, average="macro"),
    })
    write_predictions(d, "test", pred)
    atomic_write_json(d / "status.json", {"status": "done", "reason": "", "traceback": ""})


def _test_set(n: int = 120) -> tuple[tuple[str, ...], np.ndarray]:
    rng = np.random.default_rng(3)
    labels = rng.permutation(np.arange(n) < n // 2).astype(np.int64)
    ids = tuple(f"test/{i:04d}" for i in rng.permutation(n))  # stored out of id order
    return ids, labels


def _toy_run(root: Path, counts: list[int] | None = TRAIN_COUNTS) -> Path:
    ids, labels = _test_set()
    rng = np.random.default_rng(0)
    for row, skill in (("strong", 3.0), ("blind", 0.0)):
        for seed in (0, 1):
            logits = skill * (2 * labels - 1) + rng.normal(size=len(labels))
            p1 = 1 / (1 + np.exp(-logits))
            _write_cell(root, f"{row}-s{seed}", row, seed, PredictionSet(CLASSES, ids, labels, np.stack([1 - p1, p1], 1)),
                        counts)
    return root


def _board(root: Path):
    run = load_run(root)
    store = PredictionStore(run)
    board = summarise(run, rank_by="test.f1_macro", title="toy", store=store)
    return add_statistics(board, run, store, n_resamples=300, n_permutations=500)


def test_chance_rows_score_what_dummy_classifier_scores(tmp_path: Path) -> None:
    board = _board(_toy_run(tmp_path / "toy"))
    ids, labels = _test_set()
    order = np.argsort(np.asarray(ids), kind="stable")  # chance predicts the samples in id order
    y = labels[order]
    lines = board.rows.set_index("row")
    for row, strategy in ((MAJORITY, "most_frequent"), (STRATIFIED, "stratified")):
        predicted = _dummy(strategy, TRAIN_COUNTS, len(y), seed=0).argmax(axis=1)
        assert lines.at[row, "test.accuracy_mean"] == pytest.approx(accuracy_score(y, predicted))
        assert lines.at[row, "test.f1_macro_mean"] == pytest.approx(f1_score(y, predicted, average="macro"))
        assert board.details[row].kind == "chance"
        assert board.details[row].cells == ()
        np.testing.assert_array_equal(board.details[row].confusion.sum(axis=1), np.bincount(y))
    # the majority class is "normal": defect recall 0, normal recall 1
    assert lines.at[MAJORITY, "test.accuracy_mean"] == pytest.approx(0.5)
    predicted = _dummy("most_frequent", TRAIN_COUNTS, len(y)).argmax(axis=1)
    assert balanced_accuracy_score(y, predicted) == 0.5
    assert recall_score(y, predicted, pos_label=1) == 0.0
    # ranked among the models: the strong row first, chance rows below it
    assert board.top == "strong"
    assert set(board.rows["row"]) == {"strong", "blind", MAJORITY, STRATIFIED}


def test_rows_are_tested_against_chance(tmp_path: Path) -> None:
    board = _board(_toy_run(tmp_path / "toy"))
    strong, blind = versus_chance(board, "strong"), versus_chance(board, "blind")
    assert strong["above"] and strong["p_holm"] < 0.05 and strong["delta"] > 0.3
    assert not blind["above"] and blind["p_holm"] >= 0.05
    assert set(board.vs_chance["strong"]) == {MAJORITY, STRATIFIED}
    assert versus_chance(board, MAJORITY) is None  # chance is not tested against itself
    text = terminal_table(board)
    header, _, *body = text.splitlines()
    assert header.rstrip().endswith("vs chance")
    assert " above (p " in next(line for line in body if line.split()[1] == "strong")
    assert "not above" in next(line for line in body if line.split()[1] == "blind")


def test_the_page_shows_the_chance_column(tmp_path: Path) -> None:
    root = _toy_run(tmp_path / "toy")
    board = build_leaderboard(load_run(root), tmp_path / "out", rank_by="test.f1_macro", title="toy", n_resamples=200)
    html = (tmp_path / "out" / "index.html").read_text()
    assert ">vs chance</th>" in html
    cell = '{}</span> <span class="muted">p<sub>Holm</sub>'  # a row's "vs chance" cell, not the note below
    assert html.count(cell.format(">not above chance")) == 1 and html.count(cell.format(">above chance")) == 1
    assert "DummyClassifier(strategy=&#39;most_frequent&#39;)" in html
    assert board.details[MAJORITY].kind == "chance"


def test_without_recorded_counts_the_labels_stand_in(tmp_path: Path) -> None:
    board = _board(_toy_run(tmp_path / "toy", counts=None))
    assert any("training class counts" in n for n in board.notes)
    lines = board.rows.set_index("row")
    ids, labels = _test_set()
    y = labels[np.argsort(np.asarray(ids), kind="stable")]
    predicted = _dummy("stratified", np.bincount(labels).tolist(), len(y)).argmax(axis=1)
    assert lines.at[STRATIFIED, "test.f1_macro_mean"] == pytest.approx(f1_score(y, predicted, average="macro"))


def test_chance_can_be_left_out(tmp_path: Path) -> None:
    run = load_run(_toy_run(tmp_path / "toy"))
    store = PredictionStore(run)
    board = add_statistics(summarise(run, rank_by="test.f1_macro", title="toy", store=store), run, store,
                           n_resamples=100, n_permutations=100, chance=False)
    assert set(board.rows["row"]) == {"strong", "blind"} and board.vs_chance == {}
