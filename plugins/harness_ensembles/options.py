"""Option checks of the ensemble methods and TTA entries: no heavy imports."""

from __future__ import annotations

import difflib
from typing import Any

Problems = list[tuple[str, str]]

VOTING_OPTIONS = ("weights",)
WEIGHTED_OPTIONS = ("weights", "search", "ensemble_size", "metric", "n_trials", "seed")
STACKING_OPTIONS = ("meta_learner", "meta_options", "seed")
METRICS = ("log_loss", "accuracy")
SEARCHES = ("caruana", "optuna")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unknown(options: dict[str, Any], allowed: tuple[str, ...], what: str) -> Problems:
    problems = []
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append((key, f"unknown option of {what}.{hint} Allowed: {', '.join(allowed) or '(none)'}"))
    return problems


def _check_weights(options: dict[str, Any]) -> Problems:
    if "weights" not in options:
        return []
    w = options["weights"]
    if not (isinstance(w, list) and w and all(_is_number(x) and x >= 0 for x in w) and sum(w) > 0):
        return [("weights", f"must be a list of non-negative numbers, one per member, with a positive sum; got {w!r}")]
    return []


def _positive_int(options: dict[str, Any], key: str) -> Problems:
    if key in options and not (_is_int(options[key]) and options[key] >= 1):
        return [(key, f"must be an integer >= 1, got {options[key]!r}")]
    return []


def _choice(options: dict[str, Any], key: str, choices: tuple[str, ...]) -> Problems:
    if key in options and options[key] not in choices:
        return [(key, f"must be one of {', '.join(map(repr, choices))}, got {options[key]!r}")]
    return []


def check_voting(options: dict[str, Any]) -> Problems:
    """Options of ``hard-voting`` and ``soft-voting``: optional ``weights``."""
    return _unknown(options, VOTING_OPTIONS, "a voting ensemble") + _check_weights(options)


def check_weighted(options: dict[str, Any]) -> Problems:
    """Options of ``weighted``: explicit ``weights`` or a ``search`` and its settings."""
    problems = _unknown(options, WEIGHTED_OPTIONS, "ensemble 'weighted'") + _check_weights(options)
    problems += _positive_int(options, "ensemble_size") + _positive_int(options, "n_trials")
    problems += _choice(options, "metric", METRICS) + _choice(options, "search", SEARCHES)
    if "seed" in options and not _is_int(options["seed"]):
        problems.append(("seed", f"must be an integer, got {options['seed']!r}"))
    if "weights" in options:
        for key in ("search", "ensemble_size", "n_trials", "metric"):
            if key in options:
                problems.append((key, "weights are given, so nothing is searched: remove this or remove `weights`"))
    if "n_trials" in options and options.get("search", "caruana") != "optuna":
        problems.append(("n_trials", 'only applies to search = "optuna"'))
    if "ensemble_size" in options and options.get("search", "caruana") != "caruana":
        problems.append(("ensemble_size", 'only applies to search = "caruana"'))
    return problems


def check_stacking(options: dict[str, Any], learners: tuple[str, ...]) -> Problems:
    """Options of ``stacking``: ``meta_learner`` from a fixed table, ``meta_options``, ``seed``."""
    problems = _unknown(options, STACKING_OPTIONS, "ensemble 'stacking'") + _choice(options, "meta_learner", learners)
    extra = options.get("meta_options", {})
    if not (isinstance(extra, dict) and all(isinstance(v, str | int | float | bool) for v in extra.values())):
        problems.append(("meta_options", f"must be a table of scalar constructor arguments, got {extra!r}"))
    if "seed" in options and not _is_int(options["seed"]):
        problems.append(("seed", f"must be an integer, got {options['seed']!r}"))
    return problems
