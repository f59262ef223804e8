"""GAIN-MTL training strategies: the λ table, the four-stage schedule and the curricula.

Pure Python (no torch), so option checking can use it.

Timing rule, used everywhere in this package: training position is measured in
*fractional epochs* (``epoch = 55.5`` is half-way through the 56th epoch) and turned into
progress ``p = epoch / num_epochs``. The stage is decided by ``p`` against the quarter
boundaries (stage 2 from ``p >= 0.25``, stage 3 from ``p >= 0.5``, stage 4 from
``p >= 0.75``), and the localisation warm-up ramps λ_loc linearly from 0 at ``p = 0.5``
to its target at ``p = 0.5 + 0.5 * 0.25`` (the first half of stage 3). With integer
epochs this is the table of the method's description; fractional epochs make the ramp
smooth within an epoch, which matters for short runs.
"""

from __future__ import annotations

import math

STRATEGIES: tuple[str, ...] = ("S1", "S2", "S3", "S4", "S5", "S6")
"""S1 classification only … S5 full multi-task, S6 = S5 plus GT-mask attention."""

LOSSES: tuple[str, ...] = ("cls", "am", "cam_guide", "loc", "guide", "cf", "consist")
"""Loss components, in the order of the total loss."""

_TABLE: dict[str, dict[str, float]] = {
    "S1": {"cls": 1.0, "am": 0.0, "cam_guide": 0.0, "loc": 0.0, "guide": 0.0, "cf": 0.0, "consist": 0.0},
    "S2": {"cls": 1.0, "am": 0.0, "cam_guide": 0.3, "loc": 0.0, "guide": 0.0, "cf": 0.0, "consist": 0.0},
    "S3": {"cls": 0.3, "am": 1.0, "cam_guide": 1.0, "loc": 0.0, "guide": 0.5, "cf": 0.0, "consist": 0.0},
    "S4": {"cls": 0.3, "am": 1.0, "cam_guide": 1.0, "loc": 0.2, "guide": 0.5, "cf": 0.0, "consist": 0.2},
    "S5": {"cls": 0.3, "am": 1.0, "cam_guide": 1.0, "loc": 0.2, "guide": 0.5, "cf": 0.3, "consist": 0.2},
}
_TABLE["S6"] = dict(_TABLE["S5"])  # S6 changes the attention, not the losses

STAGE_OF: dict[str, int] = {"cls": 1, "am": 2, "guide": 2, "cam_guide": 2, "loc": 3, "consist": 3, "cf": 4}
"""The stage (1–4) from which each loss may contribute."""

LOC_WARMUP_RATIO = 0.5
"""Fraction of stage 3 over which λ_loc ramps up from 0."""

S6_ALPHA_START = 0.5
"""Weight of the raw GT mask in S6's curriculum blend at the start of training."""


def table_lambdas(strategy: str) -> dict[str, float]:
    """The target λ of every loss for ``strategy`` (the table, before any schedule)."""
    return dict(_TABLE[strategy])


def uses_attended_head(strategy: str) -> bool:
    """True when the strategy's prediction is the attended head (S3 on), else the plain head."""
    return STRATEGIES.index(strategy) >= STRATEGIES.index("S3")


def stage_at(epoch: float, num_epochs: int) -> int:
    """Training stage 1–4 at a (fractional) epoch position.

    Compared as ``4 * epoch >= k * num_epochs`` so quarter boundaries are exact.
    """
    n = max(int(num_epochs), 1)
    return 1 + sum(4 * epoch >= k * n for k in (1, 2, 3))


def loc_warmup(epoch: float, num_epochs: int) -> float:
    """Factor in [0, 1] applied to λ_loc: 0 at the start of stage 3, 1 after its first half."""
    n = max(int(num_epochs), 1)
    progress = epoch / n
    ramp = (progress - 0.5) / (0.25 * LOC_WARMUP_RATIO)
    return float(min(max(ramp, 0.0), 1.0))


def active_losses(strategy: str, epoch: float, num_epochs: int) -> tuple[str, ...]:
    """Losses that contribute now: a positive table λ and their stage reached."""
    stage = stage_at(epoch, num_epochs)
    table = _TABLE[strategy]
    return tuple(name for name in LOSSES if table[name] > 0 and STAGE_OF[name] <= stage)


def effective_lambdas(strategy: str, epoch: float, num_epochs: int) -> dict[str, float]:
    """The weight of every loss at a training position, schedule and warm-up applied.

    Args:
        strategy: ``"S1"`` … ``"S6"``.
        epoch: epochs done, fractional allowed (0-based index at an epoch's start).
        num_epochs: total epochs of the run.

    Returns:
        Every name of :data:`LOSSES` to its weight; inactive losses weigh 0.
    """
    if strategy not in _TABLE:
        raise KeyError(f"unknown GAIN-MTL strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    active = set(active_losses(strategy, epoch, num_epochs))
    out = {name: (_TABLE[strategy][name] if name in active else 0.0) for name in LOSSES}
    if "loc" in active:
        out["loc"] *= loc_warmup(epoch, num_epochs)
    return out


def s6_alpha(progress: float) -> float:
    """S6 curriculum weight of the raw GT mask: linear from 0.5 at the start to 0 at the end.

    Args:
        progress: fraction of training done, clipped to [0, 1].
    """
    if math.isnan(progress):
        progress = 0.0
    return S6_ALPHA_START * (1.0 - min(max(float(progress), 0.0), 1.0))
