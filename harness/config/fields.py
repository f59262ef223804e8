"""Declarative checks for the fixed sections of an experiment file."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.config.problems import Problems
from harness.options import is_int, is_number

_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]*\Z")  # \Z: "$" would let a final newline through


@dataclass(frozen=True)
class Field:
    """One key of a fixed section: its type, default and an extra rule."""

    kind: str  # "int", "float", "str", "bool", "ints", "table", "component", "any"
    default: Any = None
    rule: Callable[[Any], bool] | None = None
    rule_message: str = ""
    required: bool = False


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return is_int(value)
    if kind == "float":
        return is_number(value)  # finite: TOML's inf and nan are no setting
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "ints":
        return isinstance(value, list) and bool(value) and all(_type_ok("int", v) for v in value)
    if kind == "table":
        return isinstance(value, dict)
    if kind == "component":
        return isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("name"), str))
    return True


_KIND_TEXT = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "ints": "a non-empty list of integers",
    "table": "a table",
    "component": 'a name or a table with a "name" key',
}


def check_value(problems: Problems, path: str, spec: Field, value: Any) -> bool:
    """Record a problem if ``value`` does not fit ``spec``; True when it fits."""
    if not _type_ok(spec.kind, value):
        problems.add(path, f"must be {_KIND_TEXT.get(spec.kind, spec.kind)}, got {value!r}")
        return False
    if spec.rule is not None and not spec.rule(value):
        problems.add(path, f"{spec.rule_message}, got {value!r}")
        return False
    return True


def check_section(
    problems: Problems, path: str, data: Any, fields: dict[str, Field], *, partial: bool = False
) -> dict[str, Any]:
    """Check a table against ``fields``; returns it with defaults filled in.

    Args:
        partial: a matrix override block: no required keys, no defaults added.
    """
    if not isinstance(data, dict):
        problems.add(path, f"must be a table, got {data!r}")
        return {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            problems.unknown_key(path, key, list(fields))
            continue
        if isinstance(value, list) and partial and fields[key].kind != "ints":
            ok = all(check_value(problems, f"{path}.{key}", fields[key], v) for v in value)
        else:
            ok = check_value(problems, f"{path}.{key}", fields[key], value)
        if ok:
            out[key] = value
    if partial:
        return out
    for key, spec in fields.items():
        if key in out or key in data:
            continue
        if spec.required:
            problems.add(f"{path}.{key}", "is required")
        elif spec.default is not None:
            out[key] = spec.default
    return out


def _metric_name(prefixes: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda v: v.startswith(prefixes) and len(v.split(".", 1)[1]) > 0


def _threshold_ok(value: Any) -> bool:
    """An operating-point rule of one-class rows (:func:`harness.anomaly.operating.parse_rule`)."""
    from harness.anomaly.operating import parse_rule
    from harness.errors import HarnessError

    try:
        parse_rule(value)
    except HarnessError:
        return False
    return True


EXPERIMENT = {
    "name": Field("str", required=True, rule=lambda v: bool(_NAME.match(v)),
                  rule_message="must be letters, digits, '_', '-' or '.' (it names folders)"),
    "description": Field("str", ""),
    "seeds": Field("ints", [0]),
    "rank_by": Field("str", "test.f1_macro", _metric_name(("test.", "val.")), 'must look like "test.<metric>"'),
    "select_by": Field("str", "val.f1_macro", _metric_name(("val.",)), 'must look like "val.<metric>"'),
    # decision tables of the leaderboard (harness.leaderboard.ranking.decisions); None: not asked for
    "select_winner_by": Field("str", None, _metric_name(("val.",)), 'must look like "val.<metric>"'),
    "slice_by": Field("any", None, lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
                      "must be a list of sample metadata field names"),
    "costs": Field("table", None),
    "rank_by_cost": Field("bool", None),
    "effects": Field("any", None, lambda v: isinstance(v, list) and all(isinstance(x, str) and "." in x for x in v),
                     'must be a list of matrix axes such as "model.strategy"'),
    "effects_reference": Field("table", None, lambda v: all(isinstance(x, str) for x in v.values()),
                               'must map axes to level names, e.g. { "model.strategy" = "S1" }'),
    "label_issues": Field("bool", None),
    "resamples": Field("int", None, lambda v: v >= 100, "must be >= 100 bootstrap resamples"),
    "permutations": Field("int", None, lambda v: v >= 100, "must be >= 100 permutation-test swaps"),
}

DECISION_KEYS = ("select_winner_by", "slice_by", "costs", "rank_by_cost", "effects", "effects_reference",
                 "label_issues", "resamples", "permutations")

COSTS = {
    "missed_defect": Field("float", None, lambda v: v >= 0, "must be >= 0", required=True),
    "false_alarm": Field("float", None, lambda v: v >= 0, "must be >= 0", required=True),
}

TRAIN = {
    "epochs": Field("int", 10, lambda v: v >= 1, "must be >= 1"),
    "batch_size": Field("int", 32, lambda v: v >= 1, "must be >= 1"),
    "eval_batch_size": Field("int", 128, lambda v: v >= 1, "must be >= 1"),
    "optimizer": Field("component", {"name": "adamw", "lr": 1e-3}),
    "scheduler": Field("component", {"name": "cosine"}),
    "loss": Field("component", {"name": "ce"}),
    "early_stopping": Field("table", None),
    "augment": Field("table", {"hflip": 0.5}),
    "grad_clip": Field("float", 0.0, lambda v: v >= 0, "must be >= 0 (0 turns clipping off)"),
    "device": Field("str", "cpu", lambda v: v in ("cpu", "auto", "cuda", "mps") or v.startswith("cuda:"),
                    'must be "cpu", "auto", "cuda", "cuda:N" or "mps"'),
    "map_size": Field("int", 32, lambda v: 4 <= v <= 512, "must be between 4 and 512"),
    "precision": Field("str", "fp32", lambda v: v in ("fp32", "bf16", "fp16"), 'must be "fp32", "bf16" or "fp16"'),
    "channels_last": Field("bool", False),
    "freeze_backbone_epochs": Field("int", 0, lambda v: v >= 0, "must be >= 0"),
    "resume_every": Field("float", 30.0, lambda v: v >= 0, "must be >= 0 seconds"),
    "train_eval_samples": Field("int", 1024, lambda v: v >= 0, "must be >= 0 (0 turns train-split metrics off)"),
    "train_on": Field("str", "all", lambda v: v in ("all", "normal"),
                      'must be "all" or "normal" (one-class models always train on normal images)'),
    "threshold": Field("any", "f1", lambda v: _threshold_ok(v),
                       'must be "f1", { fpr = x } or { recall = x } with 0 < x <= 1'),
}

EARLY_STOPPING = {
    "patience": Field("int", 5, lambda v: v >= 1, "must be >= 1"),
    "min_delta": Field("float", 0.0, lambda v: v >= 0, "must be >= 0"),
}

AUGMENT = {
    name: Field("float", None, lambda v: 0 <= v <= 1, "must be a probability between 0 and 1")
    for name in ("hflip", "vflip", "rot90", "resized_crop", "color_jitter", "noise")
}

ENSEMBLE_FIXED = ("plugin", "name", "members", "across_seeds")

TTA = {
    "views": Field("any", ["identity", "hflip"], lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
                   "must be a non-empty list of view names"),
    "merge": Field("any", "mean", lambda v: isinstance(v, str) or (isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v)),
                   "must be a merge name or a list of them"),
    "search": Field("bool", False),
    "splits": Field("any", ["val", "test"], lambda v: isinstance(v, list) and set(v) <= {"val", "test"} and bool(v),
                    'must be a list of "val" and/or "test"'),
}

EXECUTION = {  # defaults are resolved in harness.execution.settings, where they depend on the machine
    "backend": Field("str", None, lambda v: v in ("local", "process", "ray"), 'must be "local", "process" or "ray"'),
    "workers": Field("int", None, lambda v: v >= 1, "must be >= 1"),
    "threads_per_worker": Field("int", None, lambda v: v >= 1, "must be >= 1"),
    "gpus_per_cell": Field("int", None, lambda v: v >= 0, "must be >= 0"),
    "num_cpus": Field("float", None, lambda v: v > 0, "must be > 0"),
    "num_gpus": Field("float", None, lambda v: v >= 0, "must be >= 0"),
    "address": Field("str", None),
    "retries": Field("int", None, lambda v: v >= 0, "must be >= 0"),
    "lease_seconds": Field("float", None, lambda v: v > 0, "must be > 0 seconds"),
    "poll_seconds": Field("float", None, lambda v: v > 0, "must be > 0 seconds"),
}

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "percentile", "hyperband", "successive_halving", "none")

TUNE = {
    "n_trials": Field("int", 10, lambda v: v >= 1, "must be >= 1"),
    "timeout": Field("float", None, lambda v: v > 0, "must be > 0 seconds"),
    "metric": Field("str", None, _metric_name(("val.",)), 'must look like "val.<metric>"'),
    "direction": Field("str", None, lambda v: v in ("maximize", "minimize"), 'must be "maximize" or "minimize"'),
    "sampler": Field("str", "tpe", lambda v: v in SAMPLERS, f"must be one of {', '.join(SAMPLERS)}"),
    "pruner": Field("component", "median", lambda v: (v if isinstance(v, str) else v["name"]) in PRUNERS,
                    f"must name one of {', '.join(PRUNERS)}"),
    "space": Field("table", None),
    "storage": Field("str", None),
    "refit": Field("bool", False),
}

PRUNER_OPTIONS = {
    "name": Field("str"),
    "n_startup_trials": Field("int", None, lambda v: v >= 0, "must be >= 0"),
    "n_warmup_steps": Field("int", None, lambda v: v >= 0, "must be >= 0"),
    "percentile": Field("float", None, lambda v: 0 < v < 100, "must be between 0 and 100"),
    "min_resource": Field("int", None, lambda v: v >= 1, "must be >= 1"),
    "reduction_factor": Field("int", None, lambda v: v >= 2, "must be >= 2"),
}
