"""Training curves of a row's seeds, with train and validation losses that can be compared.

``val.loss`` is the configured loss (``[train] loss``) on the validation split. A model
that trains on its own objective (GAIN-MTL's weighted multi-task sum) records that
objective as ``train.loss``, its terms as ``train.<term>``, and the configured loss on
the same training batches as ``train.eval_loss``; the loss panel then pairs
``train.eval_loss`` with ``val.loss`` and the objective gets a panel of its own. An epoch
whose set of recorded terms differs from the epoch before (a training stage that switches
a loss term on or off) is marked by a dotted vertical line in every panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.ticker import MaxNLocator

from harness.leaderboard.figures.plots import LABEL, SMALL, TITLE, _new_figure, png_uri

NOT_TERMS = frozenset({"train.loss", "train.eval_loss"})
OBJECTIVE = "model's training objective"


def series(history: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """Epochs and values of ``key`` where the history holds a number for it."""
    xs, ys = [], []
    for i, entry in enumerate(history):
        value = entry.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            xs.append(float(entry.get("epoch", i + 1)))
            ys.append(float(value))
    return xs, ys


def _terms(entry: dict[str, Any]) -> frozenset[str]:
    return frozenset(k for k in entry if k.startswith("train.") and k not in NOT_TERMS)


def own_objective(history: list[dict[str, Any]]) -> bool:
    """Whether ``train.loss`` is the model's own objective rather than the configured loss."""
    return any("train.eval_loss" in e or _terms(e) for e in history)


def objective_changes(history: list[dict[str, Any]]) -> list[tuple[float, list[str]]]:
    """Epochs at which the recorded loss terms change, with the change (``+am``, ``-cls``)."""
    changes = []
    for i in range(1, len(history)):
        before, now = _terms(history[i - 1]), _terms(history[i])
        if before != now:
            what = [f"+{k[6:]}" for k in sorted(now - before)] + [f"-{k[6:]}" for k in sorted(before - now)]
            changes.append((float(history[i].get("epoch", i + 1)), what))
    return changes


def _panels(histories: Sequence[tuple[str, list[dict[str, Any]]]], select: str | None) -> list[tuple[str, tuple]]:
    """``(title, ((key, split label, line style), ...))`` per panel, empty ones left out."""
    own = any(own_objective(h) for _, h in histories)
    if not own:
        loss = ("loss (train and validation)", (("train.loss", "train", "-"), ("val.loss", "validation", "--")))
        panels = [loss]
    else:
        comparable = any("train.eval_loss" in e for _, h in histories for e in h)
        pair = (("train.eval_loss", "train", "-"),) if comparable else ()
        panels = [
            ("loss (train and validation)" if comparable else "validation loss", (*pair, ("val.loss", "validation", "--"))),
            (OBJECTIVE, (("train.loss", "train objective", "-"),)),
        ]
    if select:
        panels.append((select, ((select, "validation", "-"),)))
    return [(t, keys) for t, keys in panels if any(series(h, k)[0] for _, h in histories for k, _, _ in keys)]


def curves_plot(histories: Sequence[tuple[str, list[dict[str, Any]]]], select: str | None) -> str | None:
    """Losses, the model's own objective (if it has one) and ``select``, one colour per seed.

    Args:
        histories: ``(label, history)`` per cell; a history is one dict per epoch.
        select: the checkpoint-selection metric to plot, if known.

    Returns:
        A PNG data URI, or None when no history holds a loss or ``select``.
    """
    panels = _panels(histories, select)
    if not panels:
        return None
    fig = _new_figure(3.4 * len(panels), 2.7)
    changes = {x: what for _, h in reversed(histories) for x, what in objective_changes(h)}  # first seed's wording
    for p, (title, keys) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), p)
        for i, (label, history) in enumerate(histories):
            for key, split, style in keys:
                xs, ys = series(history, key)
                if xs:
                    ax.plot(xs, ys, style, color=f"C{i % 10}", linewidth=1.3, marker=".", markersize=4,
                            label=f"{split}, {label}")
        for x, what in sorted(changes.items()):  # the switch happens at the start of epoch x: between x - 1 and x
            ax.axvline(x - 0.5, color="0.45", linestyle=":", linewidth=1.0)
            if title == OBJECTIVE:
                ax.text(x - 0.45, 0.98, " ".join(what), transform=ax.get_xaxis_transform(), rotation=90, va="top",
                        ha="left", fontsize=SMALL, color="0.3")
        ax.set_title(title, fontsize=TITLE)
        ax.set_xlabel("epoch", fontsize=LABEL)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=SMALL)
        ax.legend(fontsize=SMALL, frameon=False)
    fig.tight_layout()
    return png_uri(fig)


def curves_caption(histories: Sequence[tuple[str, list[dict[str, Any]]]]) -> str:
    """What the curves figure shows, naming the stage switches it marks."""
    text = "training curves (solid: train, dashed: validation"
    if any(own_objective(h) for _, h in histories):
        comparable = any("train.eval_loss" in e for _, h in histories for e in h)
        text += (
            "; the loss panel scores both splits with the configured loss, the objective panel is the model's own "
            "weighted training loss" if comparable else "; the model's own training objective is drawn apart: it is "
            "a different function from the validation loss"
        )
    text += ")"
    first = next((h for _, h in histories if objective_changes(h)), None)
    if first is not None:
        marks = ", ".join(f"epoch {x:g}: {' '.join(what)}" for x, what in objective_changes(first))
        text += f"; dotted lines: the training objective changes ({marks})"
    return text
