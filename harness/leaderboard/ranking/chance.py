"""Chance rows: what a classifier that never looks at an image scores, and who beats it.

Two rows of kind ``"chance"`` are ranked beside the models, computed from labels alone,
exactly as scikit-learn's ``DummyClassifier`` fitted on the training labels would predict:

- ``chance: majority class`` (``strategy="most_frequent"``): probability 1 for the most
  frequent training class (the first class on a tie) for every sample;
- ``chance: stratified`` (``strategy="stratified"``, ``random_state=seed``): each sample's
  class drawn from the training class frequencies, as one-hot probabilities, with the very
  draw ``DummyClassifier`` makes (``RandomState(seed).multinomial(1, prior, size=N)`` over
  the samples in id order).

The training class counts come from the cells' ``config.json`` (``train_class_counts``);
for cells written before that key existed the validation labels stand in, and the page
says so. Every other row is then paired-tested against each chance row on the ranking
metric (McNemar for accuracy, the paired bootstrap otherwise; Holm-adjusted over the rows
per chance row), so a row that is "no better than chance" is marked as such.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.leaderboard.board import Leaderboard, RowDetail
from harness.leaderboard.ranking.aggregate import per_class_table, rank_rows
from harness.metrics import confusion_matrix, lower_is_better
from harness.stats.bootstrap import metric_names, resampled_metrics
from harness.stats.paired import ALPHA, PairedResult, compare_many_with_top
from harness.stats.samples import SampleSet
from harness.store import Run

KIND = "chance"
MAJORITY = "chance: majority class"
STRATIFIED = "chance: stratified"
STRATEGIES = {MAJORITY: "most_frequent", STRATIFIED: "stratified"}
COUNTS_KEY = "train_class_counts"

Samples = dict[tuple[str, str], SampleSet]


def majority_proba(counts: Sequence[int], n: int) -> np.ndarray:
    """``[n, K]`` one-hot rows of the most frequent class (the first one on a tie)."""
    out = np.zeros((n, len(counts)), dtype=np.float64)
    out[:, int(np.argmax(counts))] = 1.0
    return out


def stratified_proba(counts: Sequence[int], n: int, seed: int) -> np.ndarray:
    """``[n, K]`` one-hot rows drawn from the class frequencies, as ``DummyClassifier`` draws them.

    ``DummyClassifier`` only knows the classes present in its training labels; classes
    absent from training get a zero column here, which changes no prediction.
    """
    counts = np.asarray(counts, dtype=np.int64)
    present = np.flatnonzero(counts > 0)
    prior = counts[present] / counts.sum()
    draws = np.random.RandomState(seed).multinomial(1, prior, size=n).astype(np.float64)
    out = np.zeros((n, len(counts)), dtype=np.float64)
    out[:, present] = draws
    return out


def train_counts(run: Run, leaderboard: Leaderboard, split_labels: np.ndarray) -> tuple[list[int], str | None]:
    """The training class counts the ranked cells recorded, and a note when none did.

    Without a recorded count (cells from before it was stored), ``split_labels`` (the
    validation labels, else the test labels) stand in.
    """
    k = len(next(iter(leaderboard.details.values())).classes)
    for detail in leaderboard.details.values():
        for cell_id in detail.cells:
            counts = run.cells[cell_id].config.get(COUNTS_KEY)
            if isinstance(counts, list) and len(counts) == k and sum(counts) > 0:
                return [int(c) for c in counts], None
    counts = np.bincount(np.asarray(split_labels, dtype=np.int64), minlength=k).tolist()
    return counts, "chance rows: no cell recorded its training class counts; the class frequencies of the stored labels stand in"


def _reference(leaderboard: Leaderboard, samples: Samples, split: str) -> SampleSet | None:
    """The predictions of the best-ranked row on ``split``: whose samples and labels chance predicts."""
    for row in leaderboard.rows["row"]:
        found = samples.get((str(row), split))
        if found is not None:
            return found
    return None


def chance_samples(
    leaderboard: Leaderboard, run: Run, samples: Samples, splits: Sequence[str], seed: int = 0
) -> tuple[Samples, list[str]]:
    """The chance rows' predictions on each split, on the samples of the best-ranked row.

    Args:
        leaderboard: the ranked model rows.
        run: the stored run (for the recorded training class counts).
        samples: the model rows' predictions, ``(row, split)`` to :class:`SampleSet`.
        splits: the splits to predict.
        seed: ``random_state`` of the stratified draw.

    Returns:
        ``(row, split)`` to predictions for both chance rows, and notes.
    """
    out: Samples = {}
    notes: list[str] = []
    references = {s: _reference(leaderboard, samples, s) for s in splits}
    if not leaderboard.details or all(r is None for r in references.values()):
        return out, notes
    fallback = references.get("val") or next(r for r in references.values() if r is not None)
    counts, note = train_counts(run, leaderboard, fallback.labels)
    notes += [note] if note else []
    for split, ref in references.items():
        if ref is None:
            continue
        n = len(ref.labels)
        for row, proba, seeds in (
            (MAJORITY, majority_proba(counts, n), (None,)),
            (STRATIFIED, stratified_proba(counts, n, seed), (seed,)),
        ):
            out[(row, split)] = SampleSet(ref.classes, ref.sample_ids, ref.labels, proba[None], seeds)
    return out, notes


def _metrics(found: SampleSet, split: str) -> dict[str, float]:
    names = metric_names(found.classes)
    ones = np.ones((1, len(found.labels)))
    values = resampled_metrics(ones, found.labels, found.proba[0], found.classes, names)
    return {f"{split}.{k}": float(v[0]) for k, v in values.items()}


def add_chance_rows(leaderboard: Leaderboard, chance: Samples) -> Leaderboard:
    """The leaderboard with the chance rows ranked among the others (kind ``"chance"``)."""
    rows_of = sorted({row for row, _ in chance}, key=list(STRATEGIES).index)
    if not rows_of:
        return leaderboard
    lines, details = [], dict(leaderboard.details)
    for row in rows_of:
        values: dict[str, float] = {}
        for (name, split), found in sorted(chance.items()):
            if name == row:
                values |= _metrics(found, split)
        line: dict[str, object] = {"row": row, "model": f"DummyClassifier(strategy={STRATEGIES[row]!r})", "n_seeds": 1}
        for m in leaderboard.metrics:
            line[f"{m}_mean"] = values.get(m, math.nan)
            line[f"{m}_std"] = math.nan
        lines.append(line)
        details[row] = _detail(row, line, chance, leaderboard)
    merged = pd.concat([leaderboard.rows.drop(columns="rank"), pd.DataFrame(lines)], ignore_index=True)
    return dataclasses.replace(leaderboard, rows=rank_rows(merged, leaderboard.rank_by), details=details)


def _detail(row: str, line: dict[str, object], chance: Samples, leaderboard: Leaderboard) -> RowDetail:
    test = chance.get((row, "test"))
    classes = test.classes if test is not None else next(iter(chance.values())).classes
    confusion = None
    if test is not None:
        confusion = confusion_matrix(test.labels, test.proba[0].argmax(axis=1), len(classes))
    per_class = per_class_table(pd.Series(line, dtype=object), classes)
    if test is not None:  # support is a count of samples, which chance rows did not record
        per_class["support"] = np.bincount(test.labels, minlength=len(classes)).astype(float)
    seeds = next(found.seeds for (name, _), found in chance.items() if name == row)
    return RowDetail(row=row, model=str(line["model"]), cells=(), seeds=seeds, classes=classes,
                     per_class=per_class, confusion=confusion, kind=KIND)


def is_chance(leaderboard: Leaderboard, row: str) -> bool:
    """Whether ``row`` is one of the chance rows."""
    detail = leaderboard.details.get(row)
    return detail is not None and detail.kind == KIND


def chance_tests(
    leaderboard: Leaderboard,
    samples: Samples,
    n_resamples: int,
    seed: int,
    alpha: float = ALPHA,
    n_permutations: int | None = None,
) -> tuple[dict[str, dict[str, PairedResult]], list[str]]:
    """Every other row against each chance row on the ranking metric.

    Returns:
        Row to chance row to its :class:`PairedResult` (``delta``: the row minus chance;
        ``verdict`` ``"better"`` when significantly above chance), and notes on rows
        evaluated on other samples.
    """
    split, _, metric = leaderboard.rank_by.partition(".")
    out: dict[str, dict[str, PairedResult]] = {}
    notes: list[str] = []
    chance_rows = [r for r in STRATEGIES if (r, split) in samples]
    if not chance_rows or metric not in metric_names(samples[(chance_rows[0], split)].classes):
        return out, notes
    for chance_row in chance_rows:
        reference = samples[(chance_row, split)]
        others = []
        for row in leaderboard.rows["row"]:
            found = samples.get((str(row), split))
            if found is None or is_chance(leaderboard, str(row)):
                continue
            if found.fingerprint == reference.fingerprint and found.classes == reference.classes:
                others.append((str(row), found))
            elif chance_row == chance_rows[0]:
                notes.append(f"row {row!r} is not compared with chance: it was evaluated on a different {split} set")
        results = compare_many_with_top((chance_row, reference), others, [metric],
                                        lower_is_better=[lower_is_better(leaderboard.rank_by)], alpha=alpha,
                                        n_resamples=n_resamples, seed=seed,
                                        **({} if n_permutations is None else {"n_permutations": n_permutations}))[metric]
        for result in results:
            out.setdefault(result.row, {})[chance_row] = result
    return out, notes


def versus_chance(leaderboard: Leaderboard, row: str) -> dict[str, object] | None:
    """A row's standing against chance, from the chance row it is least clearly better than.

    Returns:
        The test shaped like the "vs #1" entries of the page (``verdict``, ``p_holm``, ``p``,
        ``delta``, ``method``, ``detail``, ``p_min``, ``order``) plus ``above`` (True when
        the row is significantly better than every chance row) and ``against`` (that chance
        row); None for a row that was not tested (the chance rows themselves among them).
    """
    tests = leaderboard.vs_chance.get(row)
    if not tests:
        return None
    against, weakest = max(tests.items(), key=lambda item: (item[1].verdict != "better", item[1].p_holm))
    return {"verdict": weakest.verdict, "p_holm": weakest.p_holm, "p": weakest.p, "delta": weakest.delta,
            "method": weakest.method, "detail": weakest.detail, "p_min": getattr(weakest, "p_min", math.nan),
            "order": weakest.p_holm, "above": weakest.verdict == "better", "against": against}
