"""Aggregation over seeds, ranking and the machine-readable results."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion

from harness import HarnessError, PredictionSet
from harness.leaderboard import build_leaderboard
from harness.leaderboard.ranking.aggregate import summarise
from harness.metrics import lower_is_better
from harness.store import atomic_write_json, load_run, write_predictions

CLASSES = ("normal", "defect")


def _predictions(rng: np.random.Generator, n: int, skill: float) -> PredictionSet:
    labels = rng.integers(0, 2, size=n)
    logits = skill * (2 * labels - 1) + rng.normal(size=n)
    p1 = 1.0 / (1.0 + np.exp(-logits))
    ids = tuple(f"s{i}" for i in range(n))
    return PredictionSet(CLASSES, ids, labels, np.stack([1 - p1, p1], axis=1))


def _write_cell(
    root: Path,
    cell_id: str,
    *,
    row: str,
    seed: int,
    metrics: dict | None,
    status: str = "done",
    reason: str = "",
    pred: PredictionSet | None = None,
) -> None:
    d = root / cell_id
    atomic_write_json(
        d / "config.json",
        {"classes": list(CLASSES), "row": row, "seed": seed, "model": {"plugin": "toy", "width": row}},
    )
    if metrics is not None:
        atomic_write_json(d / "metrics.json", metrics)
    if pred is not None:
        write_predictions(d, "test", pred)
    atomic_write_json(d / "status.json", {"status": status, "reason": reason, "traceback": ""})


# row -> per-seed metrics; chosen so that the three rows rank c, a, b by test.f1_macro
ROWS = {
    "a": [
        {"test.f1_macro": 0.70, "val.loss": 0.50, "test.f1_normal": 0.6, "train_seconds": 10.0},
        {"test.f1_macro": 0.80, "val.loss": 0.40, "test.f1_normal": 0.7, "train_seconds": 12.0},
        {"test.f1_macro": 0.78, "val.loss": 0.45, "test.f1_normal": 0.9, "train_seconds": 11.0},
    ],
    "b": [
        {"test.f1_macro": 0.60, "val.loss": 0.30, "test.f1_normal": 0.5, "train_seconds": 20.0},
        {"test.f1_macro": 0.64, "val.loss": 0.35, "test.f1_normal": 0.5, "train_seconds": 22.0},
    ],
    "c": [{"test.f1_macro": 0.91, "val.loss": 0.60, "test.f1_normal": 0.8, "train_seconds": 5.0}],
}


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "toy"
    rng = np.random.default_rng(0)
    for row, seeds in ROWS.items():
        for seed, metrics in enumerate(seeds):
            extra = {"best_epoch": 3, "converged": True, "note": "text is ignored"}
            _write_cell(
                root,
                f"{row}-s{seed}",
                row=row,
                seed=seed,
                metrics={**metrics, **extra},
                pred=_predictions(rng, 25, 1.0 + seed),
            )
    _write_cell(root, "b-s9", row="b", seed=9, metrics=None, status="failed", reason="out of memory")
    (root / "c-s1").mkdir()  # interrupted: no status.json
    atomic_write_json(root / "c-s1" / "config.json", {"classes": list(CLASSES), "row": "c", "seed": 1})
    return root


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else math.nan)


def test_rows_are_ranked_by_mean_with_sample_std(run_dir: Path) -> None:
    lb = summarise(load_run(run_dir), rank_by="test.f1_macro", title="t")
    assert list(lb.rows["row"]) == ["c", "a", "b"]
    assert list(lb.rows["rank"]) == [1, 2, 3]
    assert list(lb.rows["n_seeds"]) == [1, 3, 2]
    for _, line in lb.rows.iterrows():
        for metric in ("test.f1_macro", "val.loss", "test.f1_normal", "train_seconds"):
            mean, std = _mean_std([m[metric] for m in ROWS[line["row"]]])
            assert line[f"{metric}_mean"] == pytest.approx(mean, abs=1e-12)
            if math.isnan(std):
                assert math.isnan(line[f"{metric}_std"])
            else:
                assert line[f"{metric}_std"] == pytest.approx(std, abs=1e-12)
    assert "converged_mean" not in lb.rows.columns and "note_mean" not in lb.rows.columns
    assert lb.rows["best_epoch_mean"].tolist() == [3.0, 3.0, 3.0]
    assert lb.metrics[0] == "test.f1_macro"
    assert lb.shown == ("test.f1_macro",)
    assert lb.efficiency == ("train_seconds",)  # costs and timings have their own table
    assert lb.calibration == ("test.ece", "test.brier", "test.brier_positive_class")
    assert lb.failed == ({"cell": "b-s9", "reason": "out of memory"},)
    assert lb.incomplete == ("c-s1",)
    assert lb.details["a"].cells == ("a-s0", "a-s1", "a-s2")
    assert lb.details["a"].model == "toy (width=a)"


def test_loss_and_timings_rank_ascending(run_dir: Path) -> None:
    run = load_run(run_dir)
    by_loss = summarise(run, rank_by="val.loss", title="t")
    assert list(by_loss.rows["row"]) == ["b", "a", "c"]  # means 0.325, 0.45, 0.60
    by_time = summarise(run, rank_by="train_seconds", title="t")
    assert list(by_time.rows["row"]) == ["c", "a", "b"]  # means 5, 11, 21


@pytest.mark.parametrize(
    ("name", "lower"),
    [
        ("val.loss", True),
        ("train.loss", True),
        ("test.ece", True),
        ("test.brier_score", True),
        ("train_seconds", True),
        ("test.f1_macro", False),
        ("test.precision_defect", False),
        ("test.f1_piece", False),
        ("test.auroc", False),
    ],
)
def test_lower_is_better(name: str, lower: bool) -> None:
    assert lower_is_better(name) is lower


def test_equal_means_share_a_rank_and_sort_by_name(tmp_path: Path) -> None:
    root = tmp_path / "ties"
    for cell, row, value in [("z-0", "zeta", 0.5), ("a-0", "alpha", 0.5), ("m-0", "mid", 0.9)]:
        _write_cell(root, cell, row=row, seed=0, metrics={"test.f1_macro": value})
    lb = summarise(load_run(root), rank_by="test.f1_macro", title="t")
    assert list(lb.rows["row"]) == ["mid", "alpha", "zeta"]
    assert list(lb.rows["rank"]) == [1, 2, 2]


def test_unknown_rank_by_names_close_metrics(run_dir: Path) -> None:
    with pytest.raises(HarnessError, match="Did you mean 'test.f1_macro'"):
        summarise(load_run(run_dir), rank_by="test.f1_macr", title="t")


def test_confusion_matrix_is_summed_over_seeds(run_dir: Path) -> None:
    run = load_run(run_dir)
    lb = summarise(run, rank_by="test.f1_macro", title="t")
    expected = np.zeros((2, 2), dtype=np.int64)
    for cell in ("a-s0", "a-s1", "a-s2"):
        frame = run.predictions(cell, "test")
        predicted = (frame["prob_defect"] > frame["prob_normal"]).astype(int)
        expected += sk_confusion(frame["label"], predicted, labels=[0, 1])
    np.testing.assert_array_equal(lb.details["a"].confusion, expected)
    assert expected.sum() == 75
    per_class = lb.details["a"].per_class
    assert per_class.loc["normal", "f1"] == pytest.approx((0.6 + 0.7 + 0.9) / 3)
    assert math.isnan(per_class.loc["defect", "f1"])  # not recorded in metrics.json


def test_results_json_and_csv(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "board"
    build_leaderboard(load_run(run_dir), out, rank_by="test.f1_macro", title="Toy")
    data = json.loads((out / "results.json").read_text())
    assert data["experiment"] == "toy" and data["rank_by"] == "test.f1_macro"
    chance = ["chance: majority class", "chance: stratified"]  # ranked below the three models here
    assert [r["row"] for r in data["rows"]][:3] == ["c", "a", "b"]
    assert sorted(r["row"] for r in data["rows"][3:]) == chance
    assert [r["kind"] for r in data["rows"]] == ["model"] * 3 + ["chance"] * 2
    assert [r["rank"] for r in data["rows"]][:3] == [1, 2, 3]
    assert [r["n_seeds"] for r in data["rows"]][:3] == [1, 3, 2]
    assert data["rows"][1]["cells"] == ["a-s0", "a-s1", "a-s2"]
    mean, std = _mean_std([0.70, 0.80, 0.78])
    assert data["rows"][1]["metrics"]["test.f1_macro"]["mean"] == pytest.approx(mean, abs=1e-12)
    assert data["rows"][1]["metrics"]["test.f1_macro"]["std"] == pytest.approx(std, abs=1e-12)
    assert data["rows"][0]["metrics"]["test.f1_macro"]["std"] is None  # one seed
    assert data["failed"] == [{"cell": "b-s9", "reason": "out of memory"}]

    with open(out / "results.csv", newline="") as f:
        reader = csv.DictReader(f)
        lines = list(reader)
    assert reader.fieldnames[:5] == ["rank", "row", "n_seeds", "test.f1_macro_mean", "test.f1_macro_std"]
    assert set(reader.fieldnames) >= {"val.loss_mean", "val.loss_std", "train_seconds_mean", "best_epoch_std"}
    assert [(line["rank"], line["row"], line["n_seeds"]) for line in lines][:3] == [
        ("1", "c", "1"),
        ("2", "a", "3"),
        ("3", "b", "2"),
    ]
    assert sorted(line["row"] for line in lines[3:]) == chance
    mean, std = _mean_std([0.30, 0.35])
    assert float(lines[2]["val.loss_mean"]) == pytest.approx(mean, abs=1e-15)
    assert float(lines[2]["val.loss_std"]) == pytest.approx(std, abs=1e-15)
    assert lines[0]["val.loss_std"] == ""


def test_run_without_finished_cells(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    _write_cell(root, "x-s0", row="x", seed=0, metrics=None, status="failed", reason="bad option")
    out = tmp_path / "board"
    lb = build_leaderboard(load_run(root), out, rank_by="test.f1_macro", title="Nothing yet")
    assert lb.rows.empty
    data = json.loads((out / "results.json").read_text())
    assert data["rows"] == [] and data["failed"] == [{"cell": "x-s0", "reason": "bad option"}]
    assert (out / "results.csv").read_text().splitlines()[0] == "rank,row,n_seeds"


# a run whose stored metrics agree with its predictions: every seed sees the same test set
LABELS = np.array([0, 1] * 30)
IDS = tuple(f"img{i:02d}" for i in range(60))
SKILLS = {"strong": ([2.5, 2.2], 9.0), "fast": ([1.0], 1.0), "slow-weak": ([0.7], 12.0)}  # row -> (skills, latency)


def _proba(skill: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=len(LABELS))
    p1 = 1.0 / (1.0 + np.exp(-(skill * (2 * LABELS - 1) + noise)))
    return np.stack([1 - p1, p1], axis=1)


@pytest.fixture()
def consistent_run(tmp_path: Path) -> tuple[Path, dict[str, list[np.ndarray]]]:
    from harness.metrics import classification_metrics

    root = tmp_path / "consistent"
    probas: dict[str, list[np.ndarray]] = {}
    for r, (row, (skills, latency)) in enumerate(SKILLS.items()):
        for seed, skill in enumerate(skills):
            proba = _proba(skill, 10 * r + seed)
            probas.setdefault(row, []).append(proba)
            metrics = {f"test.{k}": v for k, v in classification_metrics(LABELS, proba, CLASSES).items()}
            metrics |= {"test.latency_ms": latency, "params": 1e6 * latency}
            _write_cell(
                root,
                f"{row}-s{seed}",
                row=row,
                seed=seed,
                metrics=metrics,
                pred=PredictionSet(CLASSES, IDS, LABELS, proba),
            )
    return root, probas


def test_results_json_carries_intervals_tests_and_fingerprints(consistent_run, tmp_path: Path) -> None:
    from harness.stats.bootstrap import bootstrap_intervals
    from harness.stats.paired import compare_with_top, holm
    from harness.stats.samples import fingerprint, stack_seeds

    root, probas = consistent_run
    build_leaderboard(load_run(root), tmp_path / "board", rank_by="test.f1_macro", title="t", n_resamples=300)
    data = json.loads((tmp_path / "board" / "results.json").read_text())
    assert data["run_dir"] == str(root.resolve()) and data["top"] == "strong"
    family = len(data["rows"]) - 1  # every row but the top is tested against it
    assert data["bootstrap"] == {"resamples": 300, "permutations": 2000, "seed": 0, "level": 0.95, "alpha": 0.05,
                                 "p_min": pytest.approx(1 / 2001), "p_min_holm": pytest.approx(family / 2001),
                                 "family": family}
    # the toy cells record no training class counts: the chance rows say what stands in for them
    assert data["notes"] == [
        "chance rows: no cell recorded its training class counts; the class frequencies of the stored labels stand in"
    ]
    stacks = {row: stack_seeds(CLASSES, [(s, IDS, LABELS, p) for s, p in enumerate(ps)]) for row, ps in probas.items()}
    models = [r for r in data["rows"] if r["kind"] == "model"]
    assert len(models) == 3 and len(data["rows"]) == 3 + 2  # and the two chance rows
    for entry in models:
        expected = bootstrap_intervals(stacks[entry["row"]], n_resamples=300, seed=0)
        for name in ("f1_macro", "accuracy", "auroc", "recall_defect", "ece", "brier_positive_class"):
            got = entry["metrics"][f"test.{name}"]
            assert (got["low"], got["high"]) == pytest.approx((expected[name].low, expected[name].high), abs=1e-12)
            assert got["mean"] == pytest.approx(expected[name].point, abs=1e-12)
        assert entry["fingerprints"] == {"test": fingerprint(IDS, LABELS)}
        assert "low" not in entry["metrics"]["test.latency_ms"]
    others = [(row, stacks[row]) for row in ("fast", "slow-weak")]
    for metric in ("f1_macro", "accuracy"):
        for result in compare_with_top(("strong", stacks["strong"]), others, metric, n_resamples=300):
            got = next(r for r in data["rows"] if r["row"] == result.row)["paired"][f"test.{metric}"]
            assert got["p"] == pytest.approx(result.p, abs=1e-12)
            assert got["method"] == result.method and got["delta"] == pytest.approx(result.delta, abs=1e-12)
        # Holm runs over every row tested against the top, the chance rows included
        tested = [r for r in data["rows"] if f"test.{metric}" in r["paired"]]
        adjusted = holm([r["paired"][f"test.{metric}"]["p"] for r in tested])
        assert [r["paired"][f"test.{metric}"]["p_holm"] for r in tested] == pytest.approx(list(adjusted), abs=1e-12)
    # fast (1 ms) and strong (9 ms) are on the front; slow-weak is slower and worse than both
    assert {r["row"]: r["pareto"] for r in models} == {"strong": True, "fast": True, "slow-weak": False}
    header = (tmp_path / "board" / "results.csv").read_text().splitlines()[0].split(",")
    assert header[3:7] == ["test.f1_macro_mean", "test.f1_macro_std", "test.f1_macro_low", "test.f1_macro_high"]
    assert header[-1] == "pareto"


def test_wrong_predictions_are_written_most_confident_first(consistent_run, tmp_path: Path) -> None:
    from harness.leaderboard.figures.wrong import row_slug

    root, probas = consistent_run
    build_leaderboard(load_run(root), tmp_path / "board", rank_by="test.f1_macro", title="t", n_resamples=50)
    with open(tmp_path / "board" / "wrong" / f"{row_slug('fast')}_test.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    expected = []
    for seed, proba in enumerate(probas["fast"]):
        for i in np.flatnonzero(proba.argmax(axis=1) != LABELS):
            expected.append((IDS[i], CLASSES[LABELS[i]], CLASSES[proba[i].argmax()], proba[i].max(), str(seed)))
    expected.sort(key=lambda e: (-e[3], e[0], e[4]))
    assert len(lines) == len(expected) > 0
    for line, (sid, true, predicted, confidence, seed) in zip(lines, expected):
        assert (line["sample_id"], line["true_class"], line["predicted_class"], line["seed"]) == (
            sid,
            true,
            predicted,
            seed,
        )
        assert float(line["confidence"]) == pytest.approx(confidence, abs=5e-7)
    assert not (tmp_path / "board" / "wrong" / f"{row_slug('strong')}_val.csv").exists()  # no val predictions stored
    assert row_slug("timm arch=convnext_atto").startswith("timm-arch-convnext-atto-")


def test_seeds_on_different_samples_get_a_note(run_dir: Path, tmp_path: Path) -> None:
    # the shared fixture draws new labels for every cell: a row's seeds disagree about the test set
    build_leaderboard(load_run(run_dir), tmp_path / "board", rank_by="test.f1_macro", title="t", n_resamples=50)
    data = json.loads((tmp_path / "board" / "results.json").read_text())
    assert any(
        "row 'a', test predictions: seed 1 was evaluated on other samples than seed 0" in n for n in data["notes"]
    )
    row_a = next(r for r in data["rows"] if r["row"] == "a")
    assert row_a["metrics"]["test.f1_macro"]["low"] is None  # no interval; row c has one
    row_c = next(r for r in data["rows"] if r["row"] == "c")
    assert row_c["metrics"]["test.f1_macro"]["low"] is not None
