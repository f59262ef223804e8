"""Leaderboards: rank a stored run's model configurations and publish them.

``build_leaderboard(run, out_dir, rank_by=..., title=...)`` writes ``index.html`` (the
ranking and the board-wide tables), one page per row ``rows/<row-slug>.html`` (its
per-class numbers, figures and wrong predictions), ``results.json``, ``results.csv`` and
``wrong/<row-slug>_<split>.csv`` (train, val, test), ``training/<row-slug>.csv`` and
``per_class/<row-slug>.csv`` (training analyses, :mod:`harness.leaderboard.ranking.training`), all through :func:`publish`; every page is
self-contained (inline CSS, a small inline script that sorts the tables, embedded PNG
figures, no external requests). ``terminal_table(leaderboard)`` gives the same ranking
as text. Every metric that the stored predictions determine comes with a bootstrap
interval, rows are tested against the top row, and rows on the latency/quality Pareto
front are marked (:mod:`harness.leaderboard.ranking.statistics`). Tuned rows show their Optuna
studies (:mod:`harness.leaderboard.ranking.tuning`); ensemble and TTA rows rank beside single
models with their members, weights, cost and analysis (:mod:`harness.leaderboard.ranking.derived`).
pandas, matplotlib and jinja2 load only when a leaderboard is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.leaderboard.board import Leaderboard, RowDetail
from harness.leaderboard.publish import publish

if TYPE_CHECKING:
    from harness.store import Run

__all__ = ["Leaderboard", "RowDetail", "build_leaderboard", "leaderboard_files", "publish", "terminal_table"]


def build_leaderboard(
    run: Run,
    out_dir: Path,
    *,
    rank_by: str,
    title: str,
    description: str = "",
    jinja_hook: Callable[..., Any] | None = None,
    select_by: str | None = None,
    n_resamples: int = 1000,
    bootstrap_seed: int = 0,
    n_permutations: int = 2000,
    decisions: dict[str, Any] | None = None,
) -> Leaderboard:
    """Aggregate ``run`` over seeds, rank it and write the leaderboard files.

    Args:
        run: the stored run (``harness.store.load_run``).
        out_dir: the leaderboard folder (created if needed), written by :func:`publish`.
        rank_by: metric to rank by, e.g. ``"test.f1_macro"``; descending unless lower
            is better (losses, calibration errors, timings).
        title: page title.
        description: a paragraph under the title.
        jinja_hook: optional callable given the jinja2 environment as ``env`` before the
            template loads (pass ``pm.hook.harness_prepare_jinja2_environment``).
        select_by: the checkpoint-selection metric to draw in the training curves;
            by default the validation twin of ``rank_by`` (``val.f1_macro`` for
            ``test.f1_macro``) when the histories hold it.
        n_resamples: bootstrap resamples of the intervals and paired tests.
        bootstrap_seed: seed of the resampling (the same inputs give the same page).
        n_permutations: random swaps of the paired permutation tests (their smallest
            attainable p-value is ``1 / (n_permutations + 1)``).
        decisions: the decision keys of ``[experiment]`` (``select_winner_by``,
            ``slice_by``, ``costs``, ``effects``, ``label_issues``, ...; see
            :mod:`harness.leaderboard.ranking.decisions`).

    Returns:
        The leaderboard, with ``out_dir`` set.

    Raises:
        HarnessError: cells finished but none recorded ``rank_by``.
    """
    from harness.leaderboard.decisions import with_decisions
    from harness.leaderboard.ranking.aggregate import summarise
    from harness.leaderboard.ranking.samples import PredictionStore
    from harness.leaderboard.ranking.statistics import add_statistics

    out_dir = Path(out_dir)
    store = PredictionStore(run)
    leaderboard = summarise(run, rank_by=rank_by, title=title, description=description, store=store)
    leaderboard = add_statistics(leaderboard, run, store, n_resamples=n_resamples, seed=bootstrap_seed,
                                 n_permutations=n_permutations)
    leaderboard, decision_files = with_decisions(leaderboard, run, store, decisions, resamples=n_resamples,
                                                 permutations=n_permutations, seed=bootstrap_seed)
    leaderboard, files = leaderboard_files(leaderboard, run, store, out_dir, select_by, jinja_hook)
    publish(out_dir, {**files, **decision_files})
    return leaderboard


def leaderboard_files(
    leaderboard: Leaderboard,
    run: Run,
    store: Any,
    out_dir: Path,
    select_by: str | None = None,
    jinja_hook: Callable[..., Any] | None = None,
) -> tuple[Leaderboard, dict[str, Any]]:
    """Every file of the leaderboard, path relative to ``out_dir`` (nothing is written).

    Returns:
        The leaderboard with ``wrong_files`` and ``out_dir`` set, and the files (text,
        or the JSON object of ``results.json``): ``index.html``, ``rows/<row-slug>.html``, ``results.json``, ``results.csv``,
        ``wrong/<row-slug>_<split>.csv``.
    """
    from harness.leaderboard.figures.build import all_figures, ensemble_figures, pareto_figure, tuning_figures
    from harness.leaderboard.figures.wrong import gallery, thumbnails, wrong_files
    from harness.leaderboard.pages.export import results_csv, results_dict
    from harness.leaderboard.pages.render import render_pages
    from harness.leaderboard.ranking.training import training_files

    wrong, wrong_tables, files = wrong_files(leaderboard, run, store)
    leaderboard = dataclasses.replace(leaderboard, wrong_files=wrong, out_dir=out_dir)
    galleries = {
        # a derived row stores no images: its members' (or source's) thumbnails show the same samples
        row: gallery(wrong_tables.get(row), thumbnails([run.cells[c] for c in _with_sources(run, detail)]))
        for row, detail in leaderboard.details.items()
    }
    board_figures = [f for f in (pareto_figure(leaderboard),) if f is not None]
    extra_figures = {
        row: {"tuning": tuning_figures(detail), "ensemble": ensemble_figures(detail)}
        for row, detail in leaderboard.details.items()
    }
    pages = render_pages(
        leaderboard,
        all_figures(run, leaderboard, select_by, store),
        jinja_hook,
        galleries=galleries,
        board_figures=board_figures,
        extra_figures=extra_figures,
        run=run,
    )
    files["results.csv"] = results_csv(leaderboard)
    files["results.json"] = results_dict(leaderboard)
    files.update(_threshold_reports(leaderboard, run))
    files.update(training_files(leaderboard, run))  # training/ and per_class/ CSVs
    return leaderboard, {**files, **pages}


def _threshold_reports(leaderboard: Leaderboard, run: Run) -> dict[str, str]:
    """``thresholds/<row-slug>.json`` for every row of a defect data set: its operating point on test."""
    import json

    from harness.leaderboard.figures.wrong import row_slug
    from harness.leaderboard.ranking.anomaly import operating_summary, report_file

    out = {}
    for row, detail in leaderboard.details.items():
        summary = operating_summary(run, detail.cells, detail.classes)
        if summary is not None:
            out[f"thresholds/{row_slug(row)}.json"] = json.dumps(report_file(summary), indent=2, default=float) + "\n"
    return out


def _with_sources(run: Run, detail: RowDetail) -> list[str]:
    """The row's cells, then the stored cells it was built from."""
    return [*detail.cells, *(c for c in detail.sources if c in run.cells and c not in detail.cells)]


def terminal_table(leaderboard: Leaderboard) -> str:
    """The ranking as a plain-text table (see :mod:`harness.leaderboard.pages.terminal`)."""
    from harness.leaderboard.pages.terminal import terminal_table as _table

    return _table(leaderboard)
