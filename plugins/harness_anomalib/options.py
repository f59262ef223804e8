"""Checking an ``anomalib`` model block, with file:line errors before anything trains.

``model`` is checked against the catalogue without importing anomalib; the other options
are checked against the chosen model's constructor, which needs anomalib (imported only
when an experiment has an anomalib block).
"""

from __future__ import annotations

import inspect
from typing import Any

from harness import Problem
from harness import options as opt
from harness_anomalib.catalogue import IMAGE_MODELS

OWN = opt.Options(
    "the anomalib plugin", open=True,
    model=opt.Str("Patchcore", doc="an image model class of anomalib.models"),
    pretrained=opt.Bool(False, doc="ImageNet weights for the backbone (offline: tf_efficientnet_lite0)"),
    weights=opt.Str(None, nullable=True, doc="local backbone weights (safetensors or weights-only torch file)"),
)
HANDLED = ("pre_processor", "post_processor", "evaluator", "visualizer")


def check(options: dict[str, Any]) -> list[Problem]:
    """Problems of the block: unknown model (did you mean), bad own options, unknown constructor options."""
    problems = OWN.check(options)
    name = options.get("model", "Patchcore")
    if isinstance(name, str) and name not in IMAGE_MODELS:
        problems.append(Problem("model", f"unknown anomalib model {name!r}.{opt.did_you_mean(name, IMAGE_MODELS)} "
                                         f"Available: {', '.join(IMAGE_MODELS)}"))
    if problems:
        return problems
    rest = {k: v for k, v in options.items() if k not in OWN}
    if not rest:
        return []
    try:
        from harness_anomalib.adapter import constructor_options, model_class

        accepted = constructor_options(model_class(name))
    except Exception as exc:  # noqa: BLE001 - anomalib missing or broken: say so at the block
        return [Problem("model", str(exc))]
    problems = [Problem(k, m) for k, m in opt.unknown_keys(rest, [*accepted, *OWN.names], f"anomalib's {name}")]
    for key in rest:
        if key in HANDLED:
            problems.append(Problem(key, "is set by the harness (it resizes, normalises and scores itself)"))
    return problems + _type_problems(rest, accepted)


def _type_problems(options: dict[str, Any], accepted: dict[str, inspect.Parameter]) -> list[Problem]:
    """A value whose type differs from a simple default's (int, float, bool, str) is named."""
    problems = []
    for key, value in options.items():
        default = accepted[key].default if key in accepted else inspect.Parameter.empty
        if isinstance(default, bool) and not isinstance(value, bool):
            problems.append(Problem(key, f"must be true or false (default {default}), got {value!r}"))
        elif isinstance(default, int | float) and not isinstance(default, bool) and not opt.is_number(value):
            problems.append(Problem(key, f"must be a number (default {default}), got {value!r}"))
        elif isinstance(default, str) and not isinstance(value, str):
            problems.append(Problem(key, f"must be a string (default {default!r}), got {value!r}"))
    return problems
