"""``harness suite`` over three experiment folders, its Bradley-Terry ranking by hand, and compare history."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.leaderboard import build_leaderboard
from harness.stats.bradley_terry import bradley_terry, pair_wins
from harness.store import load_run

from .conftest import write_cell

# experiment -> model -> which test samples it gets right (labels alternate 0, 1)
CORRECT = {
    "e1": {"A": [1, 0, 0, 1, 1], "B": [0, 1, 1, 1, 1], "solo": [1, 1, 1, 1, 1]},  # A beats B once, B beats A twice
    "e2": {"A": [1, 0, 0, 0, 0, 0], "C": [0, 1, 1, 1, 1, 0]},  # A beats C once, C beats A four times
    "e3": {"B": [1, 0, 0, 1], "C": [0, 1, 1, 1]},  # B beats C once, C beats B twice
}


def _experiments(root: Path, boards: Path) -> None:
    for name, models in CORRECT.items():
        n = len(next(iter(models.values())))
        labels = np.arange(n) % 2
        ids = [f"{name}-{i}" for i in range(n)]
        for model, right in models.items():
            predicted = np.where(np.array(right) == 1, labels, 1 - labels)
            proba = np.full((n, 2), 0.1)
            proba[np.arange(n), predicted] = 0.9
            val = (ids, labels, proba, None)
            write_cell(root / name, model, 0, {"plugin": model}, {"val": val, "test": (ids, labels, proba, None)})
        build_leaderboard(load_run(root / name), boards / name, rank_by="test.accuracy", title=name,
                          n_resamples=100, n_permutations=100)


def test_bradley_terry_by_hand() -> None:
    # wins that a Bradley-Terry model with strengths 1 : 2 : 4 fits exactly: W_ij = n_ij * s_i / (s_i + s_j)
    wins = np.array([[0, 1, 1], [2, 0, 1], [4, 2, 0]], dtype=float)
    np.testing.assert_allclose(bradley_terry(wins), [-math.log(2), 0.0, math.log(2)], atol=1e-5)
    # two models: s_a / s_b = W_ab / W_ba, so the centred log-strengths are +-log(W_ab / W_ba) / 2
    np.testing.assert_allclose(bradley_terry(np.array([[0, 3.0], [1.0, 0]])), [math.log(3) / 2, -math.log(3) / 2],
                               atol=1e-5)
    # sample 1: 0 right, 1 wrong -> 0 wins; sample 2: 0 right on half its seeds, 1 right -> 1 wins half a sample
    assert pair_wins(np.array([[1.0, 0.5], [0.0, 1.0]])).tolist() == [[0.0, 1.0], [0.5, 0.0]]


def test_suite_over_three_experiments(tmp_path: Path, capsys) -> None:
    boards = tmp_path / "leaderboards"
    _experiments(tmp_path / "runs", boards)
    assert main(["suite", str(boards), "--resamples", "50"]) == 0
    data = json.loads((boards / "suite.json").read_text())
    assert [e["experiment"] for e in data["experiments"]] == ["e1", "e2", "e3"]
    winners = {e["experiment"]: e["winner"] for e in data["experiments"]}
    assert winners == {"e1": "solo", "e2": "C", "e3": "C"}  # chosen on val.accuracy (val = test here)
    ranking = data["ranking"]
    assert [m["model"] for m in ranking["models"]] == ["C", "B", "A"]  # "solo" is in one experiment only
    scores = {m["model"]: m["score"] for m in ranking["models"]}
    assert scores == pytest.approx({"A": -math.log(2), "B": 0.0, "C": math.log(2)}, abs=1e-5)
    assert all(m["low"] <= m["score"] <= m["high"] for m in ranking["models"])
    assert {m["model"]: (m["wins"], m["losses"]) for m in ranking["models"]} == {
        "A": (2.0, 6.0), "B": (3.0, 3.0), "C": (6.0, 2.0)}
    html = (boards / "index.html").read_text()
    assert 'href="e1/index.html"' in html and "Models across experiments" in html
    assert "ranked across them" in capsys.readouterr().out


def test_compare_keeps_its_result_in_the_history(tmp_path: Path, capsys) -> None:
    boards = tmp_path / "leaderboards"
    _experiments(tmp_path / "runs", boards)
    assert main(["compare", str(boards / "e1"), str(boards / "e1"), "--resamples", "50"]) == 0
    (kept,) = sorted((boards / "e1" / "history").glob("*.json"))
    entry = json.loads(kept.read_text())
    rows = json.loads((boards / "e1" / "results.json").read_text())["rows"]
    n_rows = len([r for r in rows if r["kind"] != "chance"])  # chance rows are each leaderboard's own, not compared
    assert len(rows) == n_rows + 2
    assert entry["b"] == str(boards / "e1") and len(entry["comparison"]["rows"]) == n_rows >= 3
    assert main(["suite", str(boards), "--resamples", "20"]) == 0
    data = json.loads((boards / "suite.json").read_text())
    history = data["experiments"][0]["history"]
    assert [h["file"] for h in history] == [f"history/{kept.name}"] and history[0]["rows"] == n_rows
    assert history[0]["worse"] == 0 and f"history/{kept.name}" in (boards / "index.html").read_text()
