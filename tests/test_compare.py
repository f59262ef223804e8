"""``harness compare`` on fake runs written with the store's writers."""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness import HarnessError, PredictionSet
from harness.compare import CompareRefused, add_compare_parser, cmd_compare, compare_sides
from harness.compare.sides import load_side
from harness.leaderboard import build_leaderboard
from harness.metrics import classification_metrics
from harness.stats.calibration import calibration_metrics
from harness.stats.paired import paired_delta_intervals
from harness.stats.samples import stack_seeds
from harness.store import atomic_write_json, load_run, write_predictions

CLASSES = ("normal", "defect")
N = 80
LABELS = np.array([0, 1] * (N // 2))
IDS = tuple(f"img{i:03d}" for i in range(N))


def _proba(skill: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=N)
    p1 = 1.0 / (1.0 + np.exp(-(skill * (2 * LABELS - 1) + noise)))
    return np.stack([1 - p1, p1], axis=1)


def _write_run(root: Path, rows: dict[str, list[np.ndarray]], ids: tuple[str, ...] = IDS) -> Path:
    for row, probas in rows.items():
        for seed, proba in enumerate(probas):
            cell = root / f"{row}-s{seed}"
            atomic_write_json(cell / "config.json", {"classes": list(CLASSES), "row": row, "seed": seed})
            metrics = classification_metrics(LABELS, proba, CLASSES) | calibration_metrics(LABELS, proba)
            atomic_write_json(cell / "metrics.json", {f"test.{k}": v for k, v in metrics.items()})
            write_predictions(cell, "test", PredictionSet(CLASSES, ids, LABELS, proba))
            atomic_write_json(cell / "status.json", {"status": "done"})
    return root


def _flipped(proba: np.ndarray, count: int) -> np.ndarray:
    out = proba.copy()
    out[:count] = out[:count, ::-1]
    return out


BASE = {"good": [_proba(2.0, 0), _proba(2.0, 1)], "weak": [_proba(0.8, 2)]}


def _compare(*argv: object) -> int:
    parser = argparse.ArgumentParser(prog="harness")
    add_compare_parser(parser.add_subparsers(dest="command", required=True))
    return cmd_compare(parser.parse_args(["compare", *map(str, argv)]))


@pytest.fixture()
def board_a(tmp_path: Path) -> Path:
    run = _write_run(tmp_path / "runs" / "a", BASE)
    build_leaderboard(load_run(run), tmp_path / "board-a", rank_by="test.f1_macro", title="A", n_resamples=200)
    return tmp_path / "board-a"


def test_same_predictions_are_no_regression(board_a: Path, tmp_path: Path, capsys) -> None:
    run_b = _write_run(tmp_path / "runs" / "b", BASE)  # another run with the very same predictions
    html, markdown = tmp_path / "cmp.html", tmp_path / "cmp.md"
    code = _compare(
        board_a,
        run_b,
        "--fail-on-regression",
        "test.f1_macro",
        "--fail-on-regression",
        "test.accuracy",
        "--html",
        html,
        "--markdown",
        markdown,
        "--resamples",
        300,
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "regression" not in out.err
    lines = [line for line in out.out.splitlines() if "test.f1_macro" in line]
    assert len(lines) == 2 and all(
        "+0.0000" in line and "[0.0000, 0.0000]" in line and "n.s." in line for line in lines
    )
    assert "good" in out.out and "1 → 1 (=)" in out.out
    page = html.read_text()
    assert re.findall(r"<script[^>]*>", page) == ["<script>"] and "http" not in page
    assert "Δ test.f1_macro" in page
    text = markdown.read_text()
    assert text.startswith("# Comparison") and "| good" in text and "| weak" in text


def test_a_broken_run_fails_naming_metric_and_row(board_a: Path, tmp_path: Path, capsys) -> None:
    broken = {"good": [_flipped(p, 30) for p in BASE["good"]], "weak": BASE["weak"]}
    run_b = _write_run(tmp_path / "runs" / "b", broken)
    code = _compare(board_a, run_b, "--fail-on-regression", "test.f1_macro", "--resamples", 300)
    err = capsys.readouterr().err
    assert code == 1
    assert "regression: test.f1_macro of row 'good'" in err and "'weak'" not in err
    # the interval is the paired bootstrap of the seed means, the delta the difference of the means
    a = stack_seeds(CLASSES, [(s, IDS, LABELS, p) for s, p in enumerate(BASE["good"])])
    b = stack_seeds(CLASSES, [(s, IDS, LABELS, p) for s, p in enumerate(broken["good"])])
    expected = paired_delta_intervals(a, b, ["f1_macro"], n_resamples=300)["f1_macro"]
    mean_a = np.mean([classification_metrics(LABELS, p, CLASSES)["f1_macro"] for p in BASE["good"]])
    mean_b = np.mean([classification_metrics(LABELS, p, CLASSES)["f1_macro"] for p in broken["good"]])
    assert expected.point == pytest.approx(mean_b - mean_a, abs=1e-12)
    assert f"B - A = {mean_b - mean_a:+.4f}, 95% CI [{expected.low:+.4f}, {expected.high:+.4f}]" in err
    # accuracy regresses as well, and --metric narrows what is compared
    assert _compare(board_a, run_b, "--fail-on-regression", "test.accuracy", "--metric", "test.accuracy") == 1


def test_a_different_test_set_is_refused(board_a: Path, tmp_path: Path) -> None:
    other_ids = tuple(f"other{i:03d}" for i in range(N))
    run_b = _write_run(tmp_path / "runs" / "b", BASE, ids=other_ids)
    with pytest.raises(CompareRefused, match="row 'good' was evaluated on different test sets") as caught:
        _compare(board_a, run_b)
    assert caught.value.exit_code == 2


def test_without_predictions_deltas_come_without_intervals(board_a: Path, tmp_path: Path, capsys) -> None:
    run_b = _write_run(tmp_path / "runs" / "b", {"good": [_flipped(BASE["good"][0], 10)], "weak": BASE["weak"]})
    shutil.rmtree(tmp_path / "runs" / "a")  # the leaderboard stays, its per-sample predictions are gone
    assert _compare(board_a, run_b) == 0
    out = capsys.readouterr().out
    assert "no per-sample predictions: the run folder" in out and "no longer exists" in out
    results = json.loads((board_a / "results.json").read_text())
    a_mean = next(r for r in results["rows"] if r["row"] == "good")["metrics"]["test.accuracy"]["mean"]
    b_mean = classification_metrics(LABELS, _flipped(BASE["good"][0], 10), CLASSES)["accuracy"]
    comparison = compare_sides(load_side(board_a), load_side(run_b))
    good = next(change for change in comparison.rows if change.row == "good")
    accuracy = next(d for d in good.deltas if d.metric == "test.accuracy")
    assert accuracy.delta == pytest.approx(b_mean - a_mean, abs=1e-12) and b_mean < a_mean
    assert math.isnan(accuracy.low) and accuracy.verdict == ""
    assert f"−{a_mean - b_mean:.4f}" in out
    with pytest.raises(CompareRefused, match="cannot tell whether row 'good' got worse"):
        _compare(board_a, run_b, "--fail-on-regression", "test.f1_macro")


def test_new_missing_rows_and_rank_changes(board_a: Path, tmp_path: Path, capsys) -> None:
    run_b = _write_run(tmp_path / "runs" / "b", {"weak": [_proba(3.0, 5)], "fresh": [_proba(1.0, 6)]})
    assert _compare(board_a, run_b, "--markdown", tmp_path / "cmp.md") == 0
    out = capsys.readouterr().out
    assert "new in B: fresh (rank 2)" in out and "missing from B: good (rank 1 in A)" in out
    weak_line = next(line for line in out.splitlines() if line.startswith("weak"))
    assert "2 → 1 (↑1)" in weak_line and "better" in weak_line
    assert "- new in B: fresh (rank 2)" in (tmp_path / "cmp.md").read_text()


def test_neither_a_leaderboard_nor_a_run(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="neither a leaderboard folder"):
        _compare(tmp_path / "empty", tmp_path / "empty")
