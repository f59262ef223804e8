"""Search spaces: ``space.<config.key> = { low, high, log, step }`` or ``{ choices = [...] }``.

Keys address the cell's resolved config (``train.optimizer.lr``, ``model.drop_rate``,
``train.loss.gamma``, ``train.augment.hflip``); ``lr``, ``weight_decay`` and
``batch_size`` are shorthands. Each entry maps one-to-one onto an Optuna ``suggest_*``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

SHORTHANDS = {
    "lr": "train.optimizer.lr",
    "weight_decay": "train.optimizer.weight_decay",
    "batch_size": "train.batch_size",
    "epochs": "train.epochs",
}
SPEC_KEYS = ("low", "high", "log", "step", "choices")
ROOTS = ("model", "train", "dataset")


@dataclass(frozen=True)
class Param:
    """One dimension of a search space."""

    path: str  # full config path, e.g. "train.optimizer.lr"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] | None = None

    def suggest(self, trial: Any) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.path, list(self.choices))
        if isinstance(self.low, int) and isinstance(self.high, int) and not isinstance(self.step, float) and not self.log:
            return trial.suggest_int(self.path, self.low, self.high, step=self.step or 1)
        if isinstance(self.low, int) and isinstance(self.high, int) and self.log and self.step is None:
            return trial.suggest_int(self.path, self.low, self.high, log=True)
        return trial.suggest_float(self.path, float(self.low), float(self.high), log=self.log, step=self.step)


def _is_spec(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in ("low", "high", "choices"))


def flatten_space(space: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables down to ``{"dotted.path": spec}``."""
    out: dict[str, Any] = {}
    for key, value in space.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not _is_spec(value):
            out.update(flatten_space(value, path))
        else:
            out[path] = value
    return out


def parse_param(path: str, spec: Any) -> tuple[Param | None, list[tuple[str, str]]]:
    """A :class:`Param` from one space entry, or the problems with it (key, message)."""
    full = SHORTHANDS.get(path, path)
    problems: list[tuple[str, str]] = []
    if full.split(".", 1)[0] not in ROOTS or "." not in full:
        problems.append(("", f"{path!r} does not address a config key: start with model., train. or dataset. "
                             f"(or use a shorthand: {', '.join(SHORTHANDS)})"))
    if not isinstance(spec, dict):
        return None, problems + [("", "must be a table { low, high, log, step } or { choices = [...] }")]
    for key in spec:
        if key not in SPEC_KEYS:
            problems.append((key, f"unknown key; allowed: {', '.join(SPEC_KEYS)}"))
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            problems.append(("choices", "must be a non-empty list"))
        elif any(k in spec for k in ("low", "high", "log", "step")):
            problems.append(("choices", "goes alone: no low, high, log or step beside it"))
        return (None if problems else Param(full, choices=tuple(choices))), problems
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numeric:
        problems.append(("", "needs numeric low and high (or choices)"))
    elif not low < high:
        problems.append(("high", f"must be greater than low ({low} >= {high})"))
    if not isinstance(log, bool):
        problems.append(("log", "must be true or false"))
    elif log and numeric and low <= 0:
        problems.append(("low", "must be > 0 on a log scale"))
    if step is not None and (not isinstance(step, (int, float)) or isinstance(step, bool) or step <= 0):
        problems.append(("step", "must be a positive number"))
    elif step is not None and log:
        problems.append(("step", "cannot be combined with log = true"))
    if problems:
        return None, problems
    return Param(full, low, high, log, step), []


def apply(config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with each ``dotted.path`` set to its value."""
    out = copy.deepcopy(config)
    for path, value in values.items():
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            if isinstance(node.get(part), str):  # a component given by name: "ce" -> {"name": "ce"}
                node[part] = {"name": node[part]}
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
