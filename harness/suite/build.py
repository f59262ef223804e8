"""``harness suite leaderboards/``: one page over every experiment's leaderboard.

Each sub-folder holding a ``results.json`` is an experiment. The page lists, per
experiment, its ranking metric, the winner chosen on validation (when the leaderboard
has one, else its top row) and its history of compared runs
(:mod:`harness.suite.history`). Models (rows, by name) that appear in two or more
experiments are ranked across them by Bradley-Terry strengths fitted on their paired
per-sample wins on the experiments' test sets (:mod:`harness.stats.bradley_terry`), with
bootstrap intervals over test samples. Written: ``index.html`` and ``suite.json`` in the
folder given (or ``--out``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.suite.history import read_history

SUITE_JSON = "suite.json"
BASELINE_KINDS = ("chance",)


def experiment_folders(root: Path) -> list[Path]:
    """The sub-folders of ``root`` with a ``results.json``, by name."""
    if not Path(root).is_dir():
        raise HarnessError(f"{root}: not a folder of leaderboards")
    return sorted(p for p in Path(root).iterdir() if (p / "results.json").is_file())


def _summary(folder: Path, results: dict[str, Any]) -> dict[str, Any]:
    rank_by = results.get("rank_by", "")
    winner = ((results.get("decisions") or {}).get("winner") or {})
    rows = {r["row"]: r for r in results.get("rows", [])}
    chosen = winner.get("row") or results.get("top")
    score = ((rows.get(chosen) or {}).get("metrics") or {}).get(rank_by) or {}
    return {"experiment": results.get("experiment", folder.name), "folder": folder.name, "rank_by": rank_by,
            "winner": chosen, "chosen_by": winner.get("select_by") if winner.get("row") else "rank",
            "score": score.get("mean"), "low": score.get("low"), "high": score.get("high"),
            "rows": len(rows), "history": read_history(folder)}


def _rights(results: dict[str, Any], models: list[str]) -> np.ndarray | None:
    """``[M, N]`` share of seeds right per model on the experiment's test set (NaN rows: absent)."""
    from harness.leaderboard.ranking.samples import PredictionStore
    from harness.store import load_run

    run_dir = results.get("run_dir")
    if not run_dir or not Path(run_dir).is_dir():
        return None
    run = load_run(Path(run_dir))
    store = PredictionStore(run)
    rows = {r["row"]: r for r in results.get("rows", [])}
    found: dict[str, Any] = {}
    for model in models:
        cells = [run.cells[c] for c in (rows.get(model) or {}).get("cells", []) if c in run.cells]
        samples = store.row_samples(model, cells, "test") if cells else None
        if samples is not None:
            found[model] = samples
    if not found:
        return None
    reference = next(iter(found.values()))
    out = np.full((len(models), len(reference.labels)), np.nan)
    for i, model in enumerate(models):
        s = found.get(model)
        if s is not None and s.fingerprint == reference.fingerprint:
            out[i] = (s.proba.argmax(axis=2) == s.labels[None]).mean(axis=0)
    return out


def cross_ranking(loaded: list[tuple[Path, dict[str, Any]]], n_resamples: int, seed: int) -> dict[str, Any]:
    """Bradley-Terry ranking of the models that appear in two or more experiments."""
    from harness.stats.bradley_terry import bootstrap_scores, pair_wins

    counts: dict[str, int] = {}
    for _, results in loaded:
        for r in results.get("rows", []):
            if r.get("kind") not in BASELINE_KINDS:
                counts[r["row"]] = counts.get(r["row"], 0) + 1
    models = sorted(m for m, n in counts.items() if n >= 2)
    if len(models) < 2:
        return {"models": [], "note": "fewer than two models appear in two or more experiments"}
    rights, used = [], []
    for folder, results in loaded:
        found = _rights(results, models)
        if found is not None and (~np.isnan(found).all(axis=1)).sum() >= 2:
            rights.append(found)
            used.append(folder.name)
    if not rights:
        return {"models": [], "note": "no experiment's run store with per-sample predictions was found"}
    score, low, high = bootstrap_scores(rights, n_resamples=n_resamples, seed=seed)
    wins = sum(pair_wins(np.nan_to_num(r, nan=0.0)) * _both(r) for r in rights)
    entries = [{"model": m, "score": float(score[i]), "low": float(low[i]), "high": float(high[i]),
                "experiments": int(sum(~np.isnan(r[i]).all() for r in rights)),
                "wins": float(wins[i].sum()), "losses": float(wins[:, i].sum())}
               for i, m in enumerate(models) if not np.isnan(score[i])]
    entries.sort(key=lambda e: -e["score"])
    for rank, e in enumerate(entries, start=1):
        e["rank"] = rank
    return {"models": entries, "experiments": used, "resamples": n_resamples, "note": None}


def _both(right: np.ndarray) -> np.ndarray:
    here = ~np.isnan(right).all(axis=1)
    return (here[:, None] & here[None, :]).astype(np.float64)


def build_suite(root: Path, out_dir: Path | None = None, *, n_resamples: int = 200, seed: int = 0) -> dict[str, Any]:
    """Write ``index.html`` and ``suite.json`` over the experiment folders of ``root``; returns the data."""
    from harness.store import atomic_write_json, atomic_write_text

    root = Path(root)
    out_dir = Path(out_dir) if out_dir else root
    loaded = []
    for folder in experiment_folders(root):
        try:
            loaded.append((folder, json.loads((folder / "results.json").read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            raise HarnessError(f"{folder / 'results.json'}: unreadable ({exc})") from None
    if not loaded:
        raise HarnessError(f"{root}: no experiment folder with a results.json")
    data = {"root": str(root), "experiments": [_summary(f, r) for f, r in loaded],
            "ranking": cross_ranking(loaded, n_resamples, seed)}
    atomic_write_json(out_dir / SUITE_JSON, data)
    atomic_write_text(out_dir / "index.html", render_suite(data, out_dir, root))
    return data


def render_suite(data: dict[str, Any], out_dir: Path, root: Path) -> str:
    """The suite page (autoescaped, the leaderboards' environment and style)."""
    import os

    from harness.leaderboard.pages.render import make_environment

    links = {e["folder"]: os.path.relpath(root / e["folder"] / "index.html", out_dir) for e in data["experiments"]}
    return make_environment().get_template("suite.html.j2").render(**data, links=links)
