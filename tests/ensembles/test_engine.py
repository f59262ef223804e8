"""The ensemble and TTA engine on a run folder written with the store's own writers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from harness import load_run
from harness.ensembles import build_ensembles
from harness.matrix import Cell
from harness.predictions import PredictionSet
from harness.store import atomic_write_json, write_predictions
from harness.tta import save_tta
from harness.tta.rows import build_tta_rows

CLASSES = ("normal", "defect", "scratch")
ROWS = {"timm arch=a": "a", "timm arch=b": "b", "toy width=4": "toy"}


@pytest.fixture(scope="module")
def registries():
    from harness.plugins import build_plugins

    return build_plugins().registries


def store_cell(root, cell, val, test, *, status="done", infer_seconds=1.0):
    """A finished (or failed) cell folder: config, predictions, metrics, status."""
    folder = root / cell.id
    folder.mkdir(parents=True)
    atomic_write_json(folder / "config.json", {"id": cell.id, "key": cell.key, "row": cell.row, "seed": cell.seed,
                                               "classes": list(CLASSES)})
    for split, pred in (("val", val), ("test", test)):
        write_predictions(folder, split, pred)
    atomic_write_json(folder / "metrics.json", {"test.infer_seconds": infer_seconds})
    atomic_write_json(folder / "status.json", {"status": status, "reason": "boom" if status == "failed" else ""})


def prediction_set(rng, labels, skill, ids):
    """Probabilities that put extra mass on the true class with strength ``skill``."""
    logits = skill * np.eye(3)[labels] + rng.normal(0, 1, (len(labels), 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return PredictionSet(CLASSES, tuple(ids), labels, proba)


@pytest.fixture
def run(tmp_path):
    """Three rows x two seeds; the toy row's seed-1 cell failed."""
    rng = np.random.default_rng(0)
    y_val, y_test = rng.integers(0, 3, 40), rng.integers(0, 3, 50)
    val_ids, test_ids = [f"v{i}" for i in range(40)], [f"t{i}" for i in range(50)]
    cells = []
    for seed in (0, 1):
        for row, short in ROWS.items():
            cell = Cell(id=f"{short}-s{seed}-0000000{seed}", key=f"key-{short}-{seed}", row=row, seed=seed, config={})
            status = "failed" if (short, seed) == ("toy", 1) else "done"
            store_cell(tmp_path, cell, prediction_set(rng, y_val, 1.5, val_ids), prediction_set(rng, y_test, 1.5, test_ids),
                       status=status, infer_seconds=0.5 + len(cells))
            cells.append(cell)
    return tmp_path, cells


def stored(root, folder_id, split="test"):
    return load_run(root).prediction_set(folder_id, split)


def test_soft_voting_per_seed_matches_mean_of_members(run, registries):
    root, cells = run
    ids = build_ensembles(root, cells, ({"plugin": "soft-voting", "name": "soft", "members": "timm*"},), registries)
    assert len(ids) == 2 and ids[0].startswith("ens-soft-s0-") and ids[1].startswith("ens-soft-s1-")
    store = load_run(root)
    for seed, folder_id in enumerate(ids):
        cell = store.cells[folder_id]
        assert cell.status == "done"
        assert cell.config["row"] == "ensemble soft" and cell.config["kind"] == "ensemble"
        assert cell.config["seed"] == seed
        assert cell.config["members"] == [f"a-s{seed}-0000000{seed}", f"b-s{seed}-0000000{seed}"]
        assert cell.config["member_rows"] == ["timm arch=a", "timm arch=b"]
        members = [store.prediction_set(m, "test") for m in cell.config["members"]]
        expected = (members[0].proba + members[1].proba) / 2
        ens = stored(root, folder_id)
        np.testing.assert_allclose(ens.proba, expected, rtol=1e-14)
        assert ens.sample_ids == members[0].sample_ids
        assert cell.metrics["test.accuracy"] == pytest.approx(accuracy_score(ens.labels, expected.argmax(axis=1)))
        assert cell.metrics["test.f1_macro"] == pytest.approx(f1_score(ens.labels, expected.argmax(axis=1), average="macro"))
        assert "val.accuracy" in cell.metrics and cell.metrics["n_members"] == 2
        infer = [store.cells[m].metrics["test.infer_seconds"] for m in cell.config["members"]]
        assert cell.metrics["cost.infer_seconds"] == pytest.approx(sum(infer))
        analysis = json.loads((root / folder_id / "analysis.json").read_text())
        a, b = (m.proba.argmax(axis=1) for m in members)
        assert analysis["disagreement"][0][1] == pytest.approx(np.mean(a != b))
        assert analysis["oracle_accuracy"] == pytest.approx(np.mean((a == ens.labels) | (b == ens.labels)))
        without_a = analysis["leave_one_out"][0]
        assert without_a["without"]["accuracy"] == pytest.approx(np.mean(b == ens.labels))
        assert without_a["contribution"]["accuracy"] == pytest.approx(cell.metrics["test.accuracy"] - np.mean(b == ens.labels))


def test_second_call_reuses_finished_folders(run, registries):
    root, cells = run
    specs = ({"plugin": "hard-voting", "name": "hard", "members": "*"},)
    first = build_ensembles(root, cells, specs, registries)
    stamps = [(root / i / "status.json").stat().st_mtime_ns for i in first]
    again = build_ensembles(root, cells, specs, registries)
    assert again == first
    assert [(root / i / "status.json").stat().st_mtime_ns for i in again] == stamps
    changed = build_ensembles(root, cells, ({**specs[0], "weights": [1, 2, 1]},), registries)
    assert changed[0] != first[0]  # other options, other key, other folder
    member = load_run(root).prediction_set("a-s0-00000000", "test")
    write_predictions(root / "a-s0-00000000", "test",
                      PredictionSet(CLASSES, member.sample_ids, member.labels, member.proba[:, ::-1]))
    rerun = build_ensembles(root, cells, specs, registries)
    assert rerun[0] != first[0] and rerun[1] == first[1]  # a member re-stored under the same cell key


def test_unfinished_members_are_left_out_and_too_few_fail(run, registries):
    root, cells = run
    ids = build_ensembles(root, cells, ({"plugin": "soft-voting", "name": "all", "members": "*"},
                                        {"plugin": "soft-voting", "name": "toy", "members": ["toy*", "timm arch=a"]}),
                          registries)
    store = load_run(root)
    assert store.cells[ids[0]].config["members"] == ["a-s0-00000000", "b-s0-00000000", "toy-s0-00000000"]
    assert store.cells[ids[1]].config["members"] == ["a-s1-00000001", "b-s1-00000001"]  # toy seed 1 failed
    assert store.cells[ids[2]].status == "done"
    failed = store.cells[ids[3]]  # seed 1: only timm arch=a finished
    assert failed.status == "failed" and "at least 2 finished member cells, found 1" in failed.reason
    assert "toy-s1-00000001" in failed.reason
    assert json.loads((root / ids[3] / "config.json").read_text())["row"] == "ensemble toy"


def test_failures_are_recorded_and_the_others_go_on(run, registries):
    root, cells = run
    shuffled = load_run(root).prediction_set("b-s1-00000001", "test")
    order = np.arange(50)[::-1]
    write_predictions(root / "b-s1-00000001", "test",
                      PredictionSet(CLASSES, tuple(np.array(shuffled.sample_ids)[order]), shuffled.labels[order],
                                    shuffled.proba[order]))
    ids = build_ensembles(root, cells, ({"plugin": "soft-voting", "name": "soft", "members": "timm*"},
                                        {"plugin": "soft-voting", "name": "nothing", "members": "resnet*"}), registries)
    store = load_run(root)
    assert [store.cells[i].status for i in ids] == ["done", "failed", "failed", "failed"]
    assert "different order" in store.cells[ids[1]].reason and "first difference at row 0: 't0' vs 't49'" in store.cells[ids[1]].reason
    assert "'resnet*' match no row" in store.cells[ids[2]].reason
    assert not (root / ids[1] / "predictions_test.csv").exists()


def test_across_seeds_builds_one_ensemble(run, registries):
    root, cells = run
    (folder_id,) = build_ensembles(root, cells, ({"plugin": "weighted", "name": "w", "across_seeds": True,
                                                  "ensemble_size": 5},), registries)
    cell = load_run(root).cells[folder_id]
    assert folder_id.startswith("ens-w-all-") and cell.config["seed"] == "all"
    assert len(cell.config["members"]) == 5 and len(cell.config["weights"]) == 5
    assert sum(cell.config["weights"]) == pytest.approx(1.0)
    assert all(w * 5 == pytest.approx(round(w * 5)) for w in cell.config["weights"])  # Caruana counts / 5


def test_stacking_in_the_engine_fits_on_validation_only(tmp_path, registries):
    rng = np.random.default_rng(1)
    y_val, y_test = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    val_ids, test_ids = [f"v{i}" for i in range(200)], [f"t{i}" for i in range(200)]
    cells = [Cell(id=f"m{i}-s0-00000000", key=f"k{i}", row=f"m{i}", seed=0, config={}) for i in range(3)]
    for cell in cells[:2]:
        store_cell(tmp_path, cell, prediction_set(rng, y_val, 1.0, val_ids), prediction_set(rng, y_test, 1.0, test_ids))
    leak_val = PredictionSet(CLASSES, tuple(val_ids), y_val, rng.dirichlet(np.ones(3), 200))
    leak_test = PredictionSet(CLASSES, tuple(test_ids), y_test, 0.98 * np.eye(3)[y_test] + 0.01)
    store_cell(tmp_path, cells[2], leak_val, leak_test)
    (folder_id,) = build_ensembles(tmp_path, cells, ({"plugin": "stacking", "name": "stack"},), registries)
    cell = load_run(tmp_path).cells[folder_id]
    assert cell.status == "done" and cell.config["fit_split"] == "val"
    assert cell.metrics["test.accuracy"] < 0.9
    loo = {e["id"]: e["contribution"]["accuracy"] for e in json.loads((tmp_path / folder_id / "analysis.json").read_text())["leave_one_out"]}
    assert loo["m2-s0-00000000"] < 0.1  # the leaking member adds next to nothing on test


def tta_views(labels, right_half):
    """identity right on half the samples, hflip right everywhere, vflip confidently wrong."""
    n = len(labels)
    wrong = (labels + 1) % 3
    identity = np.full((n, 3), 0.1)
    identity[np.arange(n), np.where(right_half, labels, wrong)] = 0.8
    hflip = np.full((n, 3), 0.05)
    hflip[np.arange(n), labels] = 0.9
    vflip = np.full((n, 3), 0.05)
    vflip[np.arange(n), wrong] = 0.9
    return np.stack([identity, hflip, vflip])


def test_tta_rows_merge_and_search_on_validation(run, registries):
    root, cells = run
    cell = cells[0]
    store = load_run(root)
    for split in ("val", "test"):
        pred = store.prediction_set(cell.id, split)
        half = np.arange(len(pred.labels)) % 2 == 0
        save_tta(root / cell.id, split, ["identity", "hflip", "vflip"], tta_views(pred.labels, half), pred.sample_ids, 3.0)
    tta = {"views": ["identity", "hflip", "vflip"], "merge": ["mean", "max"], "search": True, "splits": ["val", "test"]}
    ids = build_tta_rows(root, cells, tta, registries, select_by="val.accuracy")
    assert ids == [f"tta-{cell.id}-mean", f"tta-{cell.id}-max", f"tta-{cell.id}-search"]
    store = load_run(root)
    mean = store.cells[ids[0]]
    assert mean.status == "done" and mean.config["row"] == "timm arch=a +tta(mean)" and mean.config["kind"] == "tta"
    assert mean.config["cost_multiplier"] == 3 and mean.metrics["cost.infer_seconds"] == pytest.approx(3.0)
    labels = store.prediction_set(cell.id, "test").labels
    views = tta_views(labels, np.arange(len(labels)) % 2 == 0)
    np.testing.assert_allclose(stored(root, ids[0]).proba, views.mean(axis=0))
    m = views.max(axis=0)
    np.testing.assert_allclose(stored(root, ids[1]).proba, m / m.sum(axis=1, keepdims=True))
    search = store.cells[ids[2]]
    assert search.config["chosen_views"] == ["identity", "hflip"] and search.config["chosen_merge"] == "mean"
    assert search.config["val_gain"] == pytest.approx(0.5) and search.config["cost_multiplier"] == 2
    assert search.metrics["test.accuracy"] == 1.0 and search.metrics["cost.infer_seconds"] == pytest.approx(2.0)
    assert build_tta_rows(root, cells, tta, registries, select_by="val.accuracy") == ids


def test_out_of_fold_predictions_are_preferred_for_fitting(tmp_path, registries):
    rng = np.random.default_rng(2)
    y = {split: rng.integers(0, 3, 60) for split in ("val", "test", "oof")}
    ids = {split: [f"{split}{i}" for i in range(60)] for split in y}
    cells = [Cell(id=f"m{i}-s0-00000000", key=f"k{i}", row=f"m{i}", seed=0, config={}) for i in range(2)]
    sharp = {s: PredictionSet(CLASSES, tuple(ids[s]), y[s], 0.9 * np.eye(3)[y[s]] + 0.1 / 3) for s in y}
    noise = {s: PredictionSet(CLASSES, tuple(ids[s]), y[s], rng.dirichlet(np.ones(3), 60)) for s in y}
    store_cell(tmp_path, cells[0], sharp["val"], noise["test"])  # great on val only
    store_cell(tmp_path, cells[1], noise["val"], sharp["test"])  # great on out-of-fold and test
    spec = ({"plugin": "weighted", "name": "w", "ensemble_size": 4},)
    (val_fit,) = build_ensembles(tmp_path, cells, spec, registries)
    assert load_run(tmp_path).cells[val_fit].config["weights"] == [1.0, 0.0]
    write_predictions(tmp_path / cells[0].id, "oof", noise["oof"])
    write_predictions(tmp_path / cells[1].id, "oof", sharp["oof"])
    (oof_fit,) = build_ensembles(tmp_path, cells, spec, registries)
    cell = load_run(tmp_path).cells[oof_fit]
    assert cell.config["fit_split"] == "oof" and cell.config["weights"] == [0.0, 1.0]
    assert cell.metrics["test.accuracy"] == 1.0
