"""The winner chosen on validation, cost-optimal thresholds and slices, on runs written in the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from harness.leaderboard import build_leaderboard
from harness.stats.costs import cost_threshold
from harness.store import load_run

from .conftest import probabilities, write_cell

N_VAL, N_TEST = 60, 80


def _ids(split: str, n: int) -> list[str]:
    return [f"{split}{i:03d}" for i in range(n)]


def _labels(n: int) -> np.ndarray:
    return (np.arange(n) % 3 == 0).astype(np.int64)  # a third are defects


def _write(root: Path, skills: dict[str, tuple[float, float, int]], seed: int = 0, meta=None) -> None:
    """Rows with ``(val skill, test skill, seeds)``."""
    rng = np.random.default_rng(seed)
    yv, yt = _labels(N_VAL), _labels(N_TEST)
    for row, (val_skill, test_skill, seeds) in skills.items():
        for s in range(seeds):
            write_cell(root, row, s, {"plugin": row}, {
                "val": (_ids("v", N_VAL), yv, probabilities(yv, val_skill, rng), None),
                "test": (_ids("t", N_TEST), yt, probabilities(yt, test_skill, rng), meta),
            })


def _f1(labels, proba) -> float:
    return f1_score(labels, proba.argmax(axis=1), average="macro")


def test_the_headline_names_the_row_chosen_on_validation(tmp_path: Path) -> None:
    _write(tmp_path / "run", {"val-best": (4.0, 1.2, 2), "test-best": (0.6, 4.0, 1), "other": (1.0, 1.0, 1)})
    run = load_run(tmp_path / "run")
    board = build_leaderboard(run, tmp_path / "board", rank_by="test.f1_macro", title="w", n_resamples=300,
                              n_permutations=500)
    assert board.top == "test-best"  # ranked on test, the test-best row leads the table
    results = json.loads((tmp_path / "board" / "results.json").read_text())
    winner = results["decisions"]["winner"]
    assert (winner["row"], winner["test_best"], winner["select_by"]) == ("val-best", "test-best", "val.f1_macro")
    assert "test-set metric" in winner["warning"]
    # the reported numbers are the displayed ones: per-seed scikit-learn F1, averaged over seeds
    frames = {row: [run.predictions(c, "test") for c in sorted(run.cells) if run.cells[c].row == row]
              for row in ("val-best", "test-best")}
    shown = {row: np.mean([_f1(f["label"], f[["prob_normal", "prob_defect"]].to_numpy()) for f in fs])
             for row, fs in frames.items()}
    assert winner["test"]["point"] == pytest.approx(shown["val-best"], abs=1e-12)
    assert winner["test"]["low"] <= winner["test"]["point"] <= winner["test"]["high"]
    assert winner["test_best_test"]["point"] == pytest.approx(shown["test-best"], abs=1e-12)
    assert winner["paired"]["delta"] == pytest.approx(shown["val-best"] - shown["test-best"], abs=1e-12)
    assert winner["paired"]["method"] == "permutation" and winner["paired"]["verdict"] == "worse"
    html = (tmp_path / "board" / "index.html").read_text()
    assert "Chosen on validation (<code>val.f1_macro</code>): <b>val-best</b>" in html
    assert "The best row on the test set is <b>test-best</b>" in html and "Warning:" in html


def test_ranking_on_validation_has_no_warning(tmp_path: Path) -> None:
    _write(tmp_path / "run", {"a": (3.0, 2.0, 1), "b": (1.0, 3.0, 1)})
    board = build_leaderboard(load_run(tmp_path / "run"), tmp_path / "board", rank_by="val.f1_macro", title="w",
                              n_resamples=200, n_permutations=200)
    assert board.decisions["winner"]["warning"] is None and board.decisions["winner"]["row"] == "a"


def _brute_force(scores: np.ndarray, is_defect: np.ndarray, missed: float, false_alarm: float) -> tuple[float, float]:
    best = (float("inf"), float("-inf"))  # (cost, -threshold): the cheapest, then the highest threshold
    for t in [*sorted(set(scores.tolist())), float("inf")]:
        cost = sum(missed for s, d in zip(scores, is_defect) if d and s < t)
        cost += sum(false_alarm for s, d in zip(scores, is_defect) if not d and s >= t)
        best = min(best, (cost, -t))
    return -best[1], best[0]


@pytest.mark.parametrize("case", range(6))
def test_cost_optimal_threshold_equals_a_brute_force_search(case: int) -> None:
    rng = np.random.default_rng(case)
    n = int(rng.integers(5, 60))
    is_defect = rng.random(n) < 0.3
    scores = np.round(np.clip(rng.normal(0.3 + 0.4 * is_defect, 0.25), 0, 1), 2)  # rounded: ties on purpose
    missed, false_alarm = [(50, 1), (1, 1), (1, 20), (0, 1), (5, 0), (3, 2)][case]
    assert cost_threshold(scores, is_defect, missed, false_alarm) == _brute_force(scores, is_defect, missed, false_alarm)


def test_cost_table_applies_each_seeds_validation_threshold_to_test(tmp_path: Path) -> None:
    _write(tmp_path / "run", {"a": (2.0, 2.0, 2), "b": (1.0, 1.0, 1)})
    run = load_run(tmp_path / "run")
    board = build_leaderboard(run, tmp_path / "board", rank_by="test.f1_macro", title="c", n_resamples=200,
                              n_permutations=200, decisions={"costs": {"missed_defect": 50, "false_alarm": 1}})
    table = {r["row"]: r for r in board.decisions["costs"]["rows"]}
    for row in ("a", "b"):
        costs, thresholds = [], []
        for cid in sorted(c for c in run.cells if run.cells[c].row == row):
            val, test = run.predictions(cid, "val"), run.predictions(cid, "test")
            t, _ = _brute_force(val["prob_defect"].to_numpy(), val["label"].to_numpy() == 1, 50, 1)
            flagged = test["prob_defect"].to_numpy() >= t
            defect = test["label"].to_numpy() == 1
            costs.append(1000 * (50 * np.sum(defect & ~flagged) + np.sum(~defect & flagged)) / len(test))
            thresholds.append(t)
        assert table[row]["thresholds"] == pytest.approx(thresholds)
        assert table[row]["test_cost"] == pytest.approx(np.mean(costs))
        assert table[row]["low"] <= table[row]["test_cost"] <= table[row]["high"]
    assert "test cost / 1,000" in (tmp_path / "board" / "index.html").read_text()


def test_slices_equal_sklearn_on_the_subset(tmp_path: Path) -> None:
    yt = _labels(N_TEST)
    kinds = np.array(["crack", "hole"])[np.arange(N_TEST) % 2]
    meta = [{"defect_type": str(kinds[i]) if yt[i] else "good"} for i in range(N_TEST)]
    _write(tmp_path / "run", {"a": (2.0, 2.0, 2), "b": (1.0, 0.8, 1)}, meta=meta)
    run = load_run(tmp_path / "run")
    board = build_leaderboard(run, tmp_path / "board", rank_by="test.recall_defect", title="s", n_resamples=200,
                              n_permutations=200, decisions={"slice_by": ["defect_type"]})
    (table,) = board.decisions["slices"]
    assert table["slices"] == ["crack", "good", "hole"] and table["metric"] == "recall_defect"
    for entry in table["rows"]:
        frames = [run.predictions(c, "test") for c in sorted(run.cells) if run.cells[c].row == entry["row"]]
        for level, cell in zip(table["slices"], entry["cells"]):
            pick = [m["defect_type"] == level for m in meta]
            if level == "good":  # no defects: recall of defects says nothing there
                assert cell["point"] is None
                continue
            expected = np.mean([recall_score(f["label"][pick], f[["prob_normal", "prob_defect"]].to_numpy()[pick]
                                             .argmax(axis=1), zero_division=0) for f in frames])
            assert cell["point"] == pytest.approx(expected, abs=1e-12) and cell["n"] == sum(pick)
        scored = {lv: c["point"] for lv, c in zip(table["slices"], entry["cells"]) if c["point"] is not None}
        assert entry["worst"] == min(scored, key=scored.get)
    worst = [e["worst_value"] for e in sorted(table["rows"], key=lambda e: e["worst_rank"])]
    assert worst == sorted(worst, reverse=True)
    assert table["rows"][1]["tests"][0]["method"] in ("permutation", "permutation exact")
