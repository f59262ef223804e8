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
from matplotlib.image import imread
from sklearn.metrics import accuracy_score, f1_score

from harness import PredictionSet
from harness.derived_folders import finish
from harness.ensembles.members import MemberData
from harness.ensembles.report import analyse
from harness.leaderboard import build_leaderboard
from harness.leaderboard.figures.plots import DPI
from harness.leaderboard.figures.tune_plots import best_so_far
from harness.leaderboard.figures.wrong import row_slug
from harness.metrics import classification_metrics
from harness.store import atomic_save_npz, atomic_write_json, load_run, write_predictions
from harness_ensembles.voting import SoftVoting

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
BEST_PARAMS = {
    0: {"train.optimizer.lr": 0.0031622776, "model.width": 8},
    1: {"train.optimizer.lr": 0.05, "model.width": 4},
}
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
            metrics = _metrics(found["test"], found["val"]) | {
                "test.infer_seconds": INFER[row],
                "params": 1e5 * (r + 1),
            }
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
    tiny = _tuning(1) | {
        "counts": {"complete": 1, "pruned": 0, "fail": 2},
        "importances": {},
        "best_trial": 0,
        "best_value": 0.61,
    }
    tiny["trials"] = [tiny["trials"][0]] + [{"number": n, "state": "fail", "value": None} for n in (1, 2)]
    atomic_write_json(root / "tiny-s0" / "tuning.json", tiny)
    found = {"val": _proba(VAL, 0.3, 7), "test": _proba(TEST, 0.3, 8)}
    _done(
        root / "tiny-s0",
        {"classes": list(CLASSES), "row": "tiny", "seed": 0, "model": {"plugin": "toy"}},
        _metrics(found["test"], found["val"]),
        found,
    )
    return probas


def _ensemble(root: Path, folder: str, seed, members: list[tuple[str, int]], weights: list[float] | None) -> None:
    """One ensemble folder of ``(row, seed)`` member cells, written as the engine writes it."""
    run = load_run(root)
    probas = {
        (row, s): {
            split: run.prediction_set(f"m{list(ROWS).index(row)}-s{s}", split).proba for split in ("val", "test")
        }
        for row, s in members
    }
    records = [run.cells[f"m{list(ROWS).index(row)}-s{s}"] for row, s in members]
    data = MemberData(records, CLASSES)
    for split, labels in (("val", VAL), ("test", TEST)):
        data.proba[split] = np.stack([probas[m][split] for m in members])
        data.labels[split] = labels
        data.sample_ids[split] = _ids(split, len(labels))
    options = {"weights": weights} if weights else {}
    method = SoftVoting(**options).fit(data.proba["val"], VAL)
    found = {split: method.predict_proba(data.proba[split]) for split in ("val", "test")}
    config = {
        "id": folder,
        "key": folder,
        "row": "ensemble weighted" if weights else "ensemble across seeds",
        "kind": "ensemble",
        "seed": seed,
        "plugin": "soft-voting",
        "name": "weighted" if weights else "across seeds",
        "options": options,
        "members": [r.id for r in records],
        "member_rows": [row for row, _ in members],
        "across_seeds": seed == "all",
        "classes": list(CLASSES),
        "fit_split": "val",
        "weights": [float(w) for w in method.weights_],
    }
    cost = sum(INFER[row] for row, _ in members)
    metrics = _metrics(found["test"], found["val"]) | {
        "cost.infer_seconds": cost,
        "test.infer_seconds": cost,
        "n_members": len(members),
    }
    analysis = analyse(lambda o: SoftVoting(**o), options, data, found["test"])
    predictions = {s: PredictionSet(CLASSES, _ids(s, len(y)), y, found[s]) for s, y in (("val", VAL), ("test", TEST))}
    finish(root / folder, config, predictions, metrics, {"analysis.json": analysis})


def _ensembles(root: Path) -> None:
    for seed in (0, 1):
        _ensemble(root, f"ens-w-s{seed}", seed, [(row, seed) for row in ROWS], WEIGHTS)
    # across seeds: every row occurs twice among the members
    _ensemble(root, "ens-all", "all", [(row, s) for row in ("cnn big", "cnn small") for s in (0, 1)], None)


def _tta(root: Path, probas: dict[tuple[str, int], dict[str, np.ndarray]]) -> None:
    for seed, (views, merge, identity, chosen) in SEARCH.items():
        found = {s: np.clip(p * 0.9 + 0.05, 0, 1) for s, p in probas[("cnn small", seed)].items()}
        config = {
            "id": f"tta-m1-s{seed}-search",
            "row": "cnn small +tta(search)",
            "kind": "tta",
            "seed": seed,
            "source": f"m1-s{seed}",
            "classes": list(CLASSES),
            "views": views,
            "merge": merge,
            "search_metric": "val.accuracy",
            "chosen_views": views,
            "chosen_merge": merge,
            "val_score": chosen,
            "val_score_identity": identity,
            "val_gain": chosen - identity,
            "cost_multiplier": len(views),
        }
        seconds = INFER["cnn small"] * len(views)
        metrics = _metrics(found["test"], found["val"]) | {
            "cost_multiplier": len(views),
            "cost.infer_seconds": seconds,
            "test.infer_seconds": seconds,
        }
        _done(root / config["id"], config, metrics, found)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("runs") / "demo"
    probas = _trained(root)
    _ensembles(root)
    _tta(root, probas)
    out = tmp_path_factory.mktemp("board")
    lb = build_leaderboard(load_run(root), out, rank_by="test.f1_macro", title="Demo", n_resamples=100)
    page = (out / "index.html").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return lb, page, results, probas, root, out


def _section(out: Path, row: str) -> str:
    """The row's own page."""
    return (out / "rows" / f"{row_slug(row)}.html").read_text(encoding="utf-8")


def _part(page: str, key: str) -> str:
    """One section of a row page."""
    start = page.index(f'<section id="{key}">')
    return page[start : page.index("</section>", start)]


def _ranking_line(page: str, row: str) -> str:
    table = page[page.index('<table class="ranking sortable">') : page.index("</table>")]
    head = re.compile(
        rf'<tr[^>]*><td data-v="\d+">\d+</td><td class="name rowname"><a href="rows/[^"]+\.html">{re.escape(str(escape(row)))}</a>'
    )
    return next(line for line in table.splitlines() if head.search(line))


def _png_shape(uri: str) -> tuple[int, ...]:
    return imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png").shape


def _signed(value: float) -> str:
    return ("−" if value < 0 else "+") + f"{abs(value):.4f}"


def _expected_analysis(probas: dict[tuple[str, int], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Ensemble and oracle accuracy, disagreement and leave-one-out deltas, mean over the two seeds."""
    found: dict[str, list] = {
        "accuracy": [],
        "oracle": [],
        "disagreement": [],
        "loo_acc": [],
        "loo_f1": [],
        "wrong": [],
    }
    weights = np.asarray(WEIGHTS)
    for seed in (0, 1):
        stack = np.stack([probas[(row, seed)]["test"] for row in ROWS])  # [M, N, K]
        predicted = stack.argmax(axis=2)
        full = np.tensordot(weights / weights.sum(), stack, axes=1).argmax(axis=1)
        found["accuracy"].append(accuracy_score(TEST, full))
        found["wrong"].append(int((full != TEST).sum()))
        found["oracle"].append(np.mean((predicted == TEST).any(axis=0)))
        found["disagreement"].append([[np.mean(a != b) for b in predicted] for a in predicted])
        acc, f1 = [], []
        for m in range(len(ROWS)):
            keep = [j for j in range(len(ROWS)) if j != m]
            without = np.tensordot(weights[keep] / weights[keep].sum(), stack[keep], axes=1).argmax(axis=1)
            acc.append(accuracy_score(TEST, full) - accuracy_score(TEST, without))
            f1.append(f1_score(TEST, full, average="macro") - f1_score(TEST, without, average="macro"))
        found["loo_acc"].append(acc)
        found["loo_f1"].append(f1)
    return {k: np.mean(np.asarray(v, dtype=np.float64), axis=0) for k, v in found.items()}


def test_tuned_row_shows_trial_counts_best_params_and_plots(built) -> None:
    lb, page, _, _, _, out = built
    counts = [{s: sum(t[1] == s for t in TRIALS[seed]) for s in ("complete", "pruned", "fail")} for seed in (0, 1)]
    total = {s: counts[0][s] + counts[1][s] for s in ("complete", "pruned", "fail")}
    assert total == {"complete": 5, "pruned": 1, "fail": 1}
    line = _ranking_line(page, "cnn big")
    assert '<span class="badge tuned"' in line and ">tuned</span>" in line
    assert f"tuned: {total['complete']} complete · {total['pruned']} pruned · {total['fail']} failed trials" in line
    assert "badge tuned" not in _ranking_line(page, "cnn small")

    section = _section(out, "cnn big")
    assert (
        f'<b class="trials">{total["complete"]} complete · {total["pruned"]} pruned · {total["fail"]} failed</b>'
        in section
    )
    assert "<th>best val.loss</th>" in section
    for seed in (0, 1):
        best = min((t for t in TRIALS[seed] if t[1] == "complete"), key=lambda t: t[2])
        params = "".join(f'<td class="param">{BEST_PARAMS[seed][p]:.4g}</td>' for p in sorted(BEST_PARAMS[seed]))
        c = counts[seed]
        expected = (
            f'<tr><td title="m0-s{seed}">{seed}</td><td>{c["complete"]}</td><td>{c["pruned"]}</td><td>{c["fail"]}</td>'
            f"<td>{best[0]}</td><td>{best[2]:.4f}</td>{params}</tr>"
        )
        assert expected in section
    assert '<td class="param">0.003162</td><td class="param">8</td>' not in section  # params follow the header order
    assert '<th class="param">model.width</th><th class="param">train.optimizer.lr</th>' in section

    tuning = _part(section, "tuning")
    uris = re.findall(r'<figure><img src="(data:image/png;base64,[^"]+)" alt="([^"]+)">', tuning)
    assert [alt.split(" ")[0:2] for _, alt in uris] == [["optimisation", "history"], ["parameter", "importances"]]
    assert _png_shape(uris[0][0])[:2] == (int(3.2 * DPI), int(6.0 * DPI))
    assert "Parameter importances of seed 1: not enough completed trials." in tuning

    tiny = _section(out, "tiny")
    assert '<b class="trials">1 complete · 0 pruned · 2 failed</b>' in tiny
    assert "Parameter importances: not enough completed trials." in tiny
    drawn = [_part(tiny, k).count('<figure><img src="data:image/png;base64,') for k in ("confusion", "tuning")]
    assert drawn == [2, 1]  # confusion and reliability; the optimisation history only


def test_best_so_far_follows_the_direction() -> None:
    numbers, values = [4, 0, 2, 3], [0.47, 0.52, 0.41, 0.45]
    assert best_so_far(numbers, values, maximize=False) == ([0, 2, 3, 4], [0.52, 0.41, 0.41, 0.41])
    assert best_so_far(numbers, values, maximize=True) == ([0, 2, 3, 4], [0.52, 0.52, 0.52, 0.52])


def test_results_json_carries_kinds_tuning_and_ensembles(built) -> None:
    _, _, results, probas, _, out = built
    assert results["format"] == 3

    def no_constants(name: str) -> None:
        raise AssertionError(f"results.json holds {name}")

    json.loads((out / "results.json").read_text(encoding="utf-8"), parse_constant=no_constants)  # strict JSON
    rows = {r["row"]: r for r in results["rows"]}
    assert {r: rows[r]["kind"] for r in rows} == {
        "cnn big": "model",
        "cnn small": "model",
        EVIL: "model",
        "tiny": "model",
        "chance: majority class": "chance",
        "chance: stratified": "chance",
        "ensemble weighted": "ensemble",
        "ensemble across seeds": "ensemble",
        "cnn small +tta(search)": "tta",
    }
    tuning = rows["cnn big"]["tuning"]
    assert (tuning["complete"], tuning["pruned"], tuning["failed"]) == (5, 1, 1)
    assert (tuning["metric"], tuning["direction"]) == ("val.loss", "minimize")
    assert tuning["best_params"] == [BEST_PARAMS[0], BEST_PARAMS[1]]
    assert tuning["importances"] == [{"train.optimizer.lr": 0.75, "model.width": 0.25}, {}]
    assert [(s["cell"], s["seed"], s["best_trial"], s["best_value"]) for s in tuning["seeds"]] == [
        ("m0-s0", 0, 2, 0.41),
        ("m0-s1", 1, 1, 0.44),
    ]
    assert rows["cnn small"]["tuning"] is None and rows["cnn small"]["ensemble"] is None

    ensemble = rows["ensemble weighted"]["ensemble"]
    expected = _expected_analysis(probas)
    assert ensemble["member_rows"] == list(ROWS) and ensemble["plugin"] == "soft-voting"
    assert ensemble["weights"] == pytest.approx(dict(zip(ROWS, WEIGHTS)), abs=1e-12)
    assert ensemble["cost_seconds"] == pytest.approx(sum(INFER.values()), abs=1e-12)
    analysis = ensemble["analysis"]
    assert analysis["oracle_accuracy"] == pytest.approx(expected["oracle"], abs=1e-12)
    assert analysis["ensemble"]["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-12)
    np.testing.assert_allclose(np.array(analysis["disagreement"], dtype=float), expected["disagreement"], atol=1e-12)
    contributions = [m["contribution"]["accuracy"] for m in analysis["members"]]
    np.testing.assert_allclose(contributions, expected["loo_acc"], atol=1e-12)
    assert [f["cell"] for f in ensemble["folders"]] == ["ens-w-s0", "ens-w-s1"]

    tta = rows["cnn small +tta(search)"]["tta"]
    assert tta["source_rows"] == ["cnn small"] and tta["search"] is True
    assert tta["cost_multiplier"] == pytest.approx(2.5)
    assert tta["val_gain"] == pytest.approx(np.mean([c - i for _, _, i, c in SEARCH.values()]), abs=1e-12)
    assert [f["chosen_views"] for f in tta["folders"]] == [SEARCH[0][0], SEARCH[1][0]]


def test_ensemble_section_shows_oracle_disagreement_and_contributions(built) -> None:
    lb, page, _, probas, _, out = built
    expected = _expected_analysis(probas)
    section = _section(out, "ensemble weighted")
    assert f'ensemble accuracy <b class="ensemble-accuracy">{expected["accuracy"]:.4f}</b>' in section
    assert f'oracle accuracy <b class="oracle-accuracy">{expected["oracle"]:.4f}</b>' in section
    assert expected["oracle"] >= expected["accuracy"]
    disagreement = section[section.index('<table class="disagreement">') :]
    for i, line in enumerate(expected["disagreement"], start=1):
        cells = "".join(f"<td>{v:.4f}</td>" for v in line)
        assert f"<tr><th>{i}</th>{cells}</tr>" in disagreement
    members = section[section.index('<table class="members">') : section.index('<table class="disagreement">')]
    for k, row in enumerate(ROWS):
        acc, f1 = _signed(expected["loo_acc"][k]), _signed(expected["loo_f1"][k])
        assert re.search(
            rf"<td>{k + 1}</td><td class=\"name\"><a href=\"{row_slug(row)}\.html\">{re.escape(str(escape(row)))}</a></td>"
            rf"<td>{WEIGHTS[k]:.3f}</td>.*?<td[^>]*>{re.escape(acc)}</td><td[^>]*>{re.escape(f1)}</td>",
            members,
        ), row
    for seed in (0, 1):
        assert f'<td>{seed}</td><td class="name"><code>ens-w-s{seed}</code></td><td>3</td>' in section
    figures = _part(section, "ensemble")
    alts = re.findall(r'<figure><img src="data:image/png;base64,[^"]+" alt="([^"]+)">', figures)
    assert [a.split(" ")[0] for a in alts] == ["share", "leave-one-out"]
    # the ensemble stores no images: its members' thumbnails fill its gallery
    assert section.count('<figure class="thumb">') == min(24, int(round(2 * expected["wrong"]))) > 0


def test_ranking_marks_derived_rows_with_members_weights_and_cost(built) -> None:
    _, page, _, _, _, _ = built
    line = _ranking_line(page, "ensemble weighted")
    assert '<span class="badge kind"' in line and ">ensemble</span>" in line
    links = re.findall(r'<a href="rows/[^"]+\.html">([^<]+)</a> <span class="muted">\(w ([0-9.]+)\)</span>', line)
    assert links == [(str(escape(row)), f"{w:.3f}") for row, w in zip(ROWS, WEIGHTS)]
    assert f"cost {sum(INFER.values()):.3g} s test inference (members summed)" in line
    tta = _ranking_line(page, "cnn small +tta(search)")
    assert ">TTA</span>" in tta and re.search(r'of <a href="rows/cnn-small-[0-9a-f]{6}\.html">cnn small</a> · views chosen on validation', tta)
    assert f"(gain {_signed(np.mean([c - i for _, _, i, c in SEARCH.values()]))})" in tta
    assert f"cost ×2.5 forward passes ({INFER['cnn small'] * 2.5:.3g} s test inference)" in tta
    assert "badge kind" not in _ranking_line(page, "cnn big")


def test_an_ensemble_across_seeds_names_members_by_row_and_seed(built) -> None:
    lb, page, results, probas, _, out = built
    line = _ranking_line(page, "ensemble across seeds")
    links = re.findall(r'<a href="rows/[^"]+\.html">([^<]+)</a> <span class="muted">\(w ([0-9.]+)\)</span>', line)
    assert links == [("cnn big", "0.500"), ("cnn small", "0.500")]  # each row once, its two cells' weights summed
    assert "4 cells across seeds" in line
    entry = next(r for r in results["rows"] if r["row"] == "ensemble across seeds")["ensemble"]
    labels = ["cnn big (seed 0)", "cnn big (seed 1)", "cnn small (seed 0)", "cnn small (seed 1)"]
    assert entry["member_rows"] == ["cnn big", "cnn small"] and entry["analysis"]["labels"] == labels
    members = [probas[(row, s)]["test"].argmax(axis=1) for row in ("cnn big", "cnn small") for s in (0, 1)]
    expected = [[np.mean(a != b) for b in members] for a in members]
    np.testing.assert_allclose(np.array(entry["analysis"]["disagreement"], dtype=float), expected, atol=1e-12)
    section = _section(out, "ensemble across seeds")
    for k, label in enumerate(labels, start=1):
        assert re.search(
            rf'<td>{k}</td><td class="name"><a href="[a-z0-9-]+\.html">{re.escape(label)}</a></td><td>0.250</td>', section
        )


def test_tta_section_shows_the_chosen_views_merge_and_gain(built) -> None:
    lb, page, _, _, _, out = built
    section = _section(out, "cnn small +tta(search)")
    assert "<b>×2.5</b> forward passes per image" in section
    for seed, (views, merge, identity, chosen) in SEARCH.items():
        assert (
            f'<tr><td title="tta-m1-s{seed}-search">{seed}</td><td class="name"><code>{", ".join(views)}</code></td>'
            f"<td><code>{merge}</code></td><td><code>val.accuracy</code></td><td>{identity:.4f}</td>"
            f"<td>{chosen:.4f}</td><td>{_signed(chosen - identity)}</td><td>{len(views)}</td></tr>"
        ) in section


def test_member_names_are_escaped_and_the_page_is_deterministic(built, tmp_path: Path) -> None:
    lb, page, _, _, root, out = built
    assert EVIL not in page and "<img src=x" not in page
    escaped = str(escape(EVIL))
    assert escaped.startswith("vit&lt;img") and page.count(escaped) >= 5  # ranking, members, tables
    for other in sorted((out / "rows").glob("*.html")):
        text = other.read_text(encoding="utf-8")
        assert EVIL not in text and "<img src=x" not in text, other
    assert re.findall(r"<script[^>]*>", page) == ["<script>"]
    build_leaderboard(load_run(root), tmp_path, rank_by="test.f1_macro", title="Demo", n_resamples=100)
    for file in sorted(out.rglob("*.html")):
        assert (tmp_path / file.relative_to(out)).read_bytes() == file.read_bytes(), file
    assert (tmp_path / "results.json").read_bytes() == (out / "results.json").read_bytes()
