"""Tuned rows, ensemble rows and TTA rows on the leaderboard.

The fake run is written with the store's own writers: three trained rows of two seeds
(one tuned, with ``tuning.json`` as a tuned cell writes it), a single-seed tuned row, a
weighted ensemble per seed whose ``analysis.json`` comes from the real analysis code and
the real soft-voting plugin, and a TTA row with a view search.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape
from harness_ensembles.voting import SoftVoting
from matplotlib.image import imread
from sklearn.metrics import accuracy_score, f1_score

from harness import PredictionSet
from harness.ensembles.folders import finish
from harness.ensembles.members import MemberData
from harness.ensembles.report import analyse
from harness.leaderboard import build_leaderboard
from harness.leaderboard.tune_plots import best_so_far
from harness.metrics import classification_metrics
from harness.store import atomic_save_npz, atomic_write_json, load_run, write_predictions

CLASSES = ("normal", "defect")
EVIL = "vit<img src=x onerror=alert(1)>&'"
ROWS = {"cnn big": 1.3, "cnn small": 0.9, EVIL: 0.5}  # row -> skill
TEST = np.array([0, 1] * 24)
VAL = np.array([1, 0] * 12)
WEIGHTS = [0.5, 0.3, 0.2]  # ensemble weights, in ROWS order
INFER = {"cnn big": 1.5, "cnn small": 0.25, EVIL: 0.125}  # test inference seconds per cell

# tuning.json of the two seeds of "cnn big": trial list (number, state, value, intermediate)
TRIALS = {
    0: [
        (0, "complete", 0.52, {"1": 0.6, "2": 0.52}),
        (1, "pruned", None, {"1": 0.9}),
        (2, "complete", 0.41, {"1": 0.5, "2": 0.41}),
        (3, "fail", None, {}),
        (4, "complete", 0.47, {"1": 0.55, "2": 0.47}),
    ],
    1: [(0, "complete", 0.61, {"1": 0.61}), (1, "complete", 0.44, {"1": 0.44})],
}
BEST_PARAMS = {0: {"train.optimizer.lr": 0.0031622776, "model.width": 8}, 1: {"train.optimizer.lr": 0.05, "model.width": 4}}
IMPORTANCES = {0: {"model.width": 0.25, "train.optimizer.lr": 0.75}, 1: {}}
# the TTA search's choices per seed: (views, merge, val score of identity, val score chosen)
SEARCH = {0: (["identity", "hflip"], "gmean", 0.75, 0.8125), 1: (["identity", "vflip", "hflip"], "mean", 0.7, 0.7)}


def _proba(labels: np.ndarray, skill: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=len(labels))
    p1 = 1.0 / (1.0 + np.exp(-(skill * (2 * labels - 1) + noise)))
    return np.stack([1 - p1, p1], axis=1)


def _ids(split: str, n: int) -> tuple[str, ...]:
    return tuple(f"{split}{i:02d}" for i in range(n))


def _metrics(proba_test: np.ndarray, proba_val: np.ndarray) -> dict[str, float]:
    found = {f"test.{k}": v for k, v in classification_metrics(TEST, proba_test, CLASSES).items()}
    return found | {f"val.{k}": v for k, v in classification_metrics(VAL, proba_val, CLASSES).items()}


def _done(folder: Path, config: dict, metrics: dict, probas: dict[str, np.ndarray]) -> None:
    atomic_write_json(folder / "config.json", config)
    for split, proba in probas.items():
        labels = TEST if split == "test" else VAL
        write_predictions(folder, split, PredictionSet(CLASSES, _ids(split, len(labels)), labels, proba))
    atomic_write_json(folder / "metrics.json", metrics)
    atomic_write_json(folder / "status.json", {"status": "done"})


def _tuning(seed: int) -> dict:
    trials = [
        {"number": n, "state": state, "value": value, "params": BEST_PARAMS[seed], "intermediate": steps}
        for n, state, value, steps in TRIALS[seed]
    ]
    done = [t for t in trials if t["state"] == "complete"]
    best = min(done, key=lambda t: t["value"])
    states = [t["state"] for t in trials]
    return {
        "study": f"demo/cnn-big-s{seed}",
        "storage": "journal",
        "metric": "val.loss",
        "direction": "minimize",
        "n_trials": 5,
        "sampler": "tpe",
        "pruner": "median",
        "counts": {s: states.count(s) for s in ("complete", "pruned", "fail", "running", "waiting")},
        "best_trial": best["number"],
        "best_value": best["value"],
        "best_params": BEST_PARAMS[seed],
        "importances": IMPORTANCES[seed],
        "trials": trials,
    }


def _trained(root: Path) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    probas = {}
    for r, (row, skill) in enumerate(ROWS.items()):
        for seed in (0, 1):
            cell = root / f"m{r}-s{seed}"
            found = {"val": _proba(VAL, skill, 100 * r + seed), "test": _proba(TEST, skill, 100 * r + seed + 50)}
            probas[(row, seed)] = found
            metrics = _metrics(found["test"], found["val"]) | {"test.infer_seconds": INFER[row], "params": 1e5 * (r + 1)}
            config = {"classes": list(CLASSES), "row": row, "seed": seed, "model": {"plugin": "toy", "width": r}}
            if row == "cnn big":
                tuning = _tuning(seed)
                c = tuning["counts"]
                metrics |= {"tune.complete": c["complete"], "tune.pruned": c["pruned"], "tune.failed": c["fail"]}
                atomic_write_json(cell / "tuning.json", tuning)
            _done(cell, config, metrics, found)
            if row == "cnn small":
                thumbs = np.random.default_rng(seed).integers(0, 256, (len(TEST), 8, 8, 3), dtype=np.uint8)
                atomic_save_npz(cell / "thumbs_test.npz", sample_ids=np.array(_ids("test", len(TEST))), images=thumbs)
    # a single-seed tuned row with one completed trial: no importances
    tiny = _tuning(1) | {"counts": {"complete": 1, "pruned": 0, "fail": 2}, "importances": {}}
    tiny["trials"] = [tiny["trials"][0]] + [{"number": n, "state": "fail", "value": None} for n in (1, 2)]
    atomic_write_json(root / "tiny-s0" / "tuning.json", tiny)
    found = {"val": _proba(VAL, 0.3, 7), "test": _proba(TEST, 0.3, 8)}
    _done(root / "tiny-s0", {"classes": list(CLASSES), "row": "tiny", "seed": 0, "model": {"plugin": "toy"}},
          _metrics(found["test"], found["val"]), found)
    return probas


def _ensembles(root: Path, probas: dict[tuple[str, int], dict[str, np.ndarray]]) -> None:
    run = load_run(root)
    for seed in (0, 1):
        records = [run.cells[f"m{r}-s{seed}"] for r in range(len(ROWS))]
        data = MemberData(records, CLASSES)
        for split, labels in (("val", VAL), ("test", TEST)):
            data.proba[split] = np.stack([probas[(row, seed)][split] for row in ROWS])
            data.labels[split] = labels
            data.sample_ids[split] = _ids(split, len(labels))
        options = {"weights": WEIGHTS}
        method = SoftVoting(**options).fit(data.proba["val"], VAL)
        found = {split: method.predict_proba(data.proba[split]) for split in ("val", "test")}
        config = {"id": f"ens-w-s{seed}", "key": f"k{seed}", "row": "ensemble weighted", "kind": "ensemble",
                  "seed": seed, "plugin": "soft-voting", "name": "weighted", "options": options,
                  "members": [r.id for r in records], "member_rows": list(ROWS), "across_seeds": False,
                  "classes": list(CLASSES), "fit_split": "val", "weights": [float(w) for w in method.weights_]}
        cost = sum(INFER.values())
        metrics = _metrics(found["test"], found["val"]) | {"cost.infer_seconds": cost, "test.infer_seconds": cost,
                                                           "n_members": 3}
        analysis = analyse(lambda o: SoftVoting(**o), options, data, found["test"])
        predictions = {s: PredictionSet(CLASSES, _ids(s, len(y)), y, found[s]) for s, y in (("val", VAL), ("test", TEST))}
        finish(root / config["id"], config, predictions, metrics, {"analysis.json": analysis})


def _tta(root: Path, probas: dict[tuple[str, int], dict[str, np.ndarray]]) -> None:
    for seed, (views, merge, identity, chosen) in SEARCH.items():
        found = {s: np.clip(p * 0.9 + 0.05, 0, 1) for s, p in probas[("cnn small", seed)].items()}
        config = {"id": f"tta-m1-s{seed}-search", "row": "cnn small +tta(search)", "kind": "tta", "seed": seed,
                  "source": f"m1-s{seed}", "classes": list(CLASSES), "views": views, "merge": merge,
                  "search_metric": "val.accuracy", "chosen_views": views, "chosen_merge": merge, "val_score": chosen,
                  "val_score_identity": identity, "val_gain": chosen - identity, "cost_multiplier": len(views)}
        seconds = INFER["cnn small"] * len(views)
        metrics = _metrics(found["test"], found["val"]) | {"cost_multiplier": len(views),
                                                           "cost.infer_seconds": seconds, "test.infer_seconds": seconds}
        _done(root / config["id"], config, metrics, found)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("runs") / "demo"
    probas = _trained(root)
    _ensembles(root, probas)
    _tta(root, probas)
    out = tmp_path_factory.mktemp("board")
    lb = build_leaderboard(load_run(root), out, rank_by="test.f1_macro", title="Demo", n_resamples=100)
    page = (out / "index.html").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return lb, page, results, probas, root, out


def _section(lb, page: str, row: str) -> str:
    position = list(lb.rows["row"]).index(row) + 1
    start = page.index(f'<section id="row-{position}">')
    return page[start : page.index("</section>", start)]


def _ranking_line(page: str, row: str) -> str:
    table = page[page.index('<table class="ranking sortable">') : page.index("</table>")]
    return next(line for line in table.splitlines() if f">{escape(row)}</a>" in line and "<tr" in line)


def _png_shape(uri: str) -> tuple[int, ...]:
    return imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png").shape
