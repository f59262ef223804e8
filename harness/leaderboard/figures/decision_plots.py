"""Figures and files of the decision tables: the effects forest plot, the label-issue gallery."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from harness.leaderboard.figures.plots import _new_figure, png_uri, short

if TYPE_CHECKING:
    from harness.store import Run

LABEL_ISSUES_CSV = "label_issues.csv"
GALLERY_MAX = 24


def forest_plot(axis: dict[str, Any]) -> str | None:
    """Each level's effect against the reference with its interval, zero marked; None without effects."""
    effects = axis.get("effects") or []
    if not effects:
        return None
    fig = _new_figure(5.0, 0.9 + 0.42 * len(effects))
    ax = fig.add_axes((0.22, 0.9 / (0.9 + 0.42 * len(effects)) * 0.7, 0.74, 1 - 0.9 / (0.9 + 0.42 * len(effects))))
    ys = list(range(len(effects)))[::-1]
    for y, e in zip(ys, effects):
        color = "C3" if e["separated"] and e["effect"] < 0 else "C2" if e["separated"] else "0.35"
        if e["low"] is not None and e["high"] is not None:
            ax.plot([e["low"], e["high"]], [y, y], color=color, linewidth=2.2, solid_capstyle="butt")
        ax.plot([e["effect"]], [y], "o", color=color, markersize=5)
    ax.axvline(0.0, color="0.5", linestyle=":", linewidth=1)
    ax.set_yticks(ys, [short(f"{e['level']} vs {axis['reference']}") for e in effects], fontsize=7.5)
    ax.set_ylim(-0.7, len(effects) - 0.3)
    ax.set_xlabel(f"effect on {axis['metric']} (hierarchical bootstrap interval)", fontsize=7.5)
    ax.tick_params(labelsize=7.5)
    ax.set_title(f"what each {axis['axis']} adds over {axis['reference']}", fontsize=8)
    return png_uri(fig)


def label_issues_csv(table: dict[str, Any]) -> str | None:
    """The text of ``label_issues.csv`` (every flagged sample of every split); None if nothing was flagged."""
    if not any(found["issues"] for found in table.get("splits", {}).values()):
        return None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["split", "rank", "sample_id", "given", "suggested", "quality", "confidence", "wrong_share",
                     "cleanlab_flagged"])
    for split, found in table["splits"].items():
        for rank, e in enumerate(found["issues"], start=1):
            writer.writerow([split, rank, e["sample_id"], e["given"], e["suggested"], f"{e['quality']:.6g}",
                             f"{e['confidence']:.6g}", f"{e['wrong_share']:.6g}", int(e["flagged"])])
    return buf.getvalue()


def label_gallery(table: dict[str, Any], run: Run) -> list[dict[str, Any]]:
    """The flagged test samples with a stored thumbnail (any cell's), most likely mislabelled first."""
    from harness.leaderboard.figures.wrong import png_data_uri, thumbnails

    issues = table.get("splits", {}).get("test", {}).get("issues", [])[:GALLERY_MAX]
    if not issues:
        return []
    thumbs = thumbnails(list(run.cells.values()))
    return [{**e, "rank": i, "uri": png_data_uri(thumbs[e["sample_id"]]) if e["sample_id"] in thumbs else None}
            for i, e in enumerate(issues, start=1)]


def decision_figures(decisions: dict[str, Any], run: Run) -> tuple[dict[str, Any], dict[str, str]]:
    """``({"forest": axis to PNG URI, "gallery": [...], "label_csv": name or None}, files)``."""
    out: dict[str, Any] = {"forest": {}, "gallery": [], "label_csv": None}
    files: dict[str, str] = {}
    for axis in decisions.get("effects", []):
        uri = forest_plot(axis)
        if uri is not None:
            out["forest"][axis["axis"]] = uri
    if decisions.get("label_issues"):
        text = label_issues_csv(decisions["label_issues"])
        if text is not None:
            files[LABEL_ISSUES_CSV] = text
            out["label_csv"] = LABEL_ISSUES_CSV
        out["gallery"] = label_gallery(decisions["label_issues"], run)
    return out, files
