"""What the page shows of tuned, ensemble and TTA rows, as plain values for the template.

A member or source row that is ranked on the same leaderboard is linked to its page.
"""

from __future__ import annotations

from typing import Any

from harness.leaderboard.board import RowDetail
from harness.leaderboard.ranking.derived import SCORES

Links = dict[str, str]  # row key to the address of its page


def _link(row: str, links: Links) -> dict[str, Any]:
    return {"row": row, "href": links.get(row)}


def _seed_text(seed: Any, cell: str) -> str:
    return cell if seed is None else str(seed)


def tuning_context(detail: RowDetail) -> dict[str, Any] | None:
    """Counts, settings and best parameters of a tuned row, one table line per seed."""
    tuning = detail.tuning
    if tuning is None:
        return None
    first = tuning["seeds"][0]
    lines = []
    for s in tuning["seeds"]:
        params = [s["best_params"].get(p) for p in tuning["params"]]
        lines.append(
            {
                **{k: s[k] for k in ("cell", "complete", "pruned", "failed", "best_trial", "best_value")},
                "seed": _seed_text(s["seed"], s["cell"]),
                "params": params,
                "has_importances": bool(s["importances"]),
            }
        )
    return {
        "metric": tuning["metric"],
        "direction": tuning["direction"],
        "sampler": first["sampler"],
        "pruner": first["pruner"],
        "n_trials": first["n_trials"],
        "complete": tuning["complete"],
        "pruned": tuning["pruned"],
        "failed": tuning["failed"],
        "params": tuning["params"],
        "seeds": lines,
        "any_importances": any(line["has_importances"] for line in lines),
    }


def _label_weights(ensemble: dict[str, Any]) -> dict[str, float]:
    """Member label to its weight, mean over the folders that weighted it."""
    found: dict[str, list[float]] = {}
    for f in ensemble["folders"]:
        for label, w in zip(f["labels"], f["weights"] or []):
            found.setdefault(label, []).append(w)
    return {label: sum(ws) / len(ws) for label, ws in found.items()}


def _label_rows(ensemble: dict[str, Any]) -> dict[str, str]:
    return {label: row for f in ensemble["folders"] for label, row in zip(f["labels"], f["member_rows"])}


def ensemble_line(detail: RowDetail, links: Links) -> dict[str, Any] | None:
    """The ranking table's note on an ensemble row: members with weights, and cost."""
    ensemble = detail.ensemble
    if ensemble is None:
        return None
    weights = ensemble["weights"] or {}
    members = [{**_link(r, links), "weight": weights.get(r)} for r in ensemble["member_rows"]]
    n_cells = max((len(f["members"]) for f in ensemble["folders"]), default=0)
    return {
        "members": members,
        "trained": ensemble["trained"],
        "n_cells": n_cells,
        "cost_seconds": ensemble["cost_seconds"],
        "across_seeds": ensemble["across_seeds"],
    }


def _folder_line(folder: dict[str, Any]) -> dict[str, Any]:
    analysis = folder["analysis"] or {}
    best = [m.get("accuracy") for m in analysis.get("members") or [] if m.get("accuracy") is not None]
    return {
        "seed": _seed_text(folder["seed"], folder["cell"]),
        "cell": folder["cell"],
        "n_members": len(folder["members"]),
        "ensemble_accuracy": (analysis.get("ensemble") or {}).get("accuracy"),
        "oracle_accuracy": analysis.get("oracle_accuracy"),
        "best_member_accuracy": max(best) if best else None,
        "mean_disagreement": analysis.get("mean_disagreement"),
        "cost_seconds": folder["cost_seconds"],
    }


def ensemble_context(detail: RowDetail, links: Links) -> dict[str, Any] | None:
    """An ensemble row's section: method, per-folder summary, members and their analysis."""
    ensemble = detail.ensemble
    if ensemble is None:
        return None
    analysis = ensemble["analysis"]
    weights, rows = _label_weights(ensemble), _label_rows(ensemble)
    members = []
    for k, m in enumerate(analysis["members"] if analysis else [], start=1):
        row = rows.get(m["label"], m["row"])
        members.append(
            {
                "number": k,
                "label": m["label"],
                "href": links.get(row),
                "weight": weights.get(m["label"]),
                "alone": m["alone"],
                "contribution": m["contribution"],
            }
        )
    return {
        "plugin": ensemble["plugin"],
        "trained": ensemble["trained"],
        "n_cells": max((len(f["members"]) for f in ensemble["folders"]), default=0),
        "member_rows": [_link(r, links) for r in ensemble["member_rows"]],
        "options": sorted((k, str(v)) for k, v in ensemble["options"].items()),
        "fit_split": ensemble["fit_split"] or (analysis or {}).get("fit_split") or "val",
        "across_seeds": ensemble["across_seeds"],
        "folders": [_folder_line(f) for f in ensemble["folders"]],
        "analysis": analysis,
        "members": members,
        "scores": SCORES,
        "weighted": bool(weights),
    }


def tta_line(detail: RowDetail, links: Links) -> dict[str, Any] | None:
    """The ranking table's note on a TTA row: source row, views, merge and cost."""
    tta = detail.tta
    if tta is None:
        return None
    first = tta["folders"][0]
    same = all(f["views"] == first["views"] and f["merge"] == first["merge"] for f in tta["folders"])
    return {
        "sources": [_link(r, links) for r in tta["source_rows"]],
        "views": first["views"] if same else None,
        "merge": first["merge"] if same else None,
        "search": tta["search"],
        "val_gain": tta["val_gain"],
        "cost_multiplier": tta["cost_multiplier"],
        "cost_seconds": tta["cost_seconds"],
    }


def tta_context(detail: RowDetail, links: Links) -> dict[str, Any] | None:
    """A TTA row's section: the note above, and per seed the views and merge (chosen, with a search)."""
    line = tta_line(detail, links)
    if line is None:
        return None
    seeds = [{**f, "seed": _seed_text(f["seed"], f["cell"])} for f in detail.tta["folders"]]
    return {**line, "seeds": seeds}
