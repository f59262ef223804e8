"""A row's own page, ``rows/<row-slug>.html``: a list of sections, each from its own partial.

The page (``row.html.j2``) shows the row's ranking line and then every section of
:data:`SECTIONS` whose ``values`` function returns something. A section's partial
(``harness/templates/_<topic>.html.j2``) renders the section's body; it sees the row's
ranking entry as ``s`` and the section as ``part`` (``part.data`` holds what its
function returned). To add a section: compute in ``ranking/``, draw in ``figures/``,
write the partial, and add one :class:`RowSection` line to :data:`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.leaderboard.board import Leaderboard, RowDetail
from harness.leaderboard.figures.build import FigureRef
from harness.leaderboard.pages import row_extras
from harness.store import Run

TEMPLATE = "row.html.j2"


@dataclass(frozen=True)
class RowInputs:
    """What a section's ``values`` function may read about its row.

    Attributes:
        leaderboard: the whole leaderboard.
        detail: the row's :class:`RowDetail`.
        entry: the row's ranking-table entry (rank, values with intervals, tests, notes).
        figures: the row's figures, each with its ``kind``.
        gallery: the row's wrong-prediction gallery, or None.
        links: row key to the address of its page, relative to this page.
        run: the run store, or None when the page is built without one.
    """

    leaderboard: Leaderboard
    detail: RowDetail
    entry: dict[str, Any]
    figures: list[FigureRef]
    gallery: dict[str, Any] | None
    links: dict[str, str]
    run: Run | None = None

    def figures_of(self, *kinds: str) -> list[FigureRef]:
        """The row's figures of the given kinds, in their order."""
        return [f for f in self.figures if f.kind in kinds]


@dataclass(frozen=True)
class RowSection:
    """One section of a row page.

    Attributes:
        key: the section's id on the page (``#key``).
        title: its heading, also listed in the page's contents.
        template: the partial that renders its body.
        values: computes the section's values; None (or empty) leaves it out.
    """

    key: str
    title: str
    template: str
    values: Callable[[RowInputs], Any]


def _cells(r: RowInputs) -> list[dict[str, str]] | None:
    detail = r.detail
    return [{"id": c, "seed": "–" if s is None else str(s)} for c, s in zip(detail.cells, detail.seeds)] or None


def _summary(r: RowInputs) -> dict[str, Any]:
    tested = list(r.leaderboard.paired)
    return {"cells": _cells(r), "tests": list(zip(tested, r.entry["tests"]))}


def _per_class(r: RowInputs) -> list[dict[str, Any]] | None:
    intervals = r.leaderboard.intervals.get(r.entry["row"], {})
    out = []
    for name, values in r.detail.per_class.to_dict("index").items():
        entry: dict[str, Any] = {"name": name, "support": values["support"]}
        for key in ("precision", "recall", "f1"):
            found = intervals.get(f"test.{key}_{name}")
            entry[key] = {"mean": values[key], "low": found.low if found else None, "high": found.high if found else None}
        out.append(entry)
    return out or None


def _tuning(r: RowInputs) -> dict[str, Any] | None:
    context = row_extras.tuning_context(r.detail)
    return None if context is None else {"tuning": context, "figures": r.figures_of("tuning")}


def _ensemble(r: RowInputs) -> dict[str, Any] | None:
    context = row_extras.ensemble_context(r.detail, r.links)
    return None if context is None else {"ensemble": context, "figures": r.figures_of("ensemble")}


def _anomaly(r: RowInputs) -> dict[str, Any] | None:
    from harness.leaderboard.figures.anomaly_plots import score_histograms
    from harness.leaderboard.figures.wrong import row_slug
    from harness.leaderboard.ranking.anomaly import operating_summary

    summary = operating_summary(r.run, r.detail.cells, r.detail.classes)
    if summary is None:
        return None
    uri = score_histograms(summary["histogram"], summary["thresholds"][0], summary["score"])
    report = f"../thresholds/{row_slug(r.entry['row'])}.json"
    return {"summary": summary, "report": report,
            "figures": [FigureRef(f"{summary['score']} of normal and defect images (first seed)", uri, "anomaly")]}


def _training(r: RowInputs) -> dict[str, Any] | None:
    from harness.leaderboard.pages.training_section import training_context

    return training_context(r.run, r.leaderboard, r.detail, r.entry["row"])


def _wrong(r: RowInputs) -> dict[str, Any] | None:
    files = r.leaderboard.wrong_files.get(r.entry["row"], {})
    if not files:
        return None
    ordered = sorted(files.items(), key=lambda item: (item[0] != "test", item[0]))
    gallery = r.gallery or {"total": 0, "items": [], "unseen": []}
    return {"files": [(split, f"../{path}") for split, path in ordered], "gallery": gallery}


SECTIONS: tuple[RowSection, ...] = (
    RowSection("summary", "Summary", "_row_summary.html.j2", _summary),
    RowSection("tuning", "Tuning", "_tuning.html.j2", _tuning),
    RowSection("ensemble", "Ensemble", "_ensemble.html.j2", _ensemble),
    RowSection("tta", "Test-time augmentation", "_tta.html.j2", lambda r: row_extras.tta_context(r.detail, r.links)),
    RowSection("per-class", "Per class (test, mean over seeds)", "_per_class.html.j2", _per_class),
    RowSection("confusion", "Confusion and calibration", "_figures.html.j2", lambda r: r.figures_of("confusion", "reliability")),
    RowSection("curves", "Training curves", "_figures.html.j2", lambda r: r.figures_of("curves")),
    RowSection("training", "Training analyses", "_training.html.j2", _training),
    RowSection("anomaly", "Defect decisions", "_anomaly.html.j2", _anomaly),
    RowSection("maps", "Maps", "_figures.html.j2", lambda r: r.figures_of("maps")),
    RowSection("wrong", "Wrong test predictions", "_wrong.html.j2", _wrong),
)


def page_context(inputs: RowInputs, board: dict[str, Any], neighbours: dict[str, Any]) -> dict[str, Any]:
    """Everything ``row.html.j2`` shows: the board's header values, the row and its sections.

    Args:
        inputs: the row.
        board: the index page's context (title, experiment, ``rank_by``, ...).
        neighbours: ``previous`` and ``next`` ranking entries (None at the ends).
    """
    parts = []
    for section in SECTIONS:
        values = section.values(inputs)
        if values:
            parts.append({"key": section.key, "title": section.title, "template": section.template, "data": values})
    return {**board, "s": inputs.entry, "parts": parts, **neighbours}
