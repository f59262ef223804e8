"""Options of the ``timm`` and ``convnext-attention`` models, declared with :mod:`harness.options`.

The checks look an architecture name up in timm once (kept on disk, see
:mod:`harness_timm.facts`) and import timm only to suggest close names; they never build a model.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from harness import HarnessError
from harness import options as opt

Problems = list[opt.Problem]


def _arch_rule(family: str = "") -> Any:
    """A rule: the name is a timm architecture (of ``family``, when given)."""
    example = f"{family}_atto" if family else "convnext_atto"

    def rule(arch: str) -> str | None:
        if not arch:
            return f"is required: a timm architecture name such as \"{example}\""
        from harness_timm.facts import arch_facts

        if not arch_facts(arch)["is_model"]:
            import timm

            names = timm.list_models(f"{family}*") if family else timm.list_models()
            close = difflib.get_close_matches(arch, names, n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            return f"{arch!r} is not a timm architecture.{hint}"
        if family and not arch.startswith(family):
            return f"must be a {family} architecture (e.g. \"{example}\", \"{family}_tiny\"), got {arch!r}"
        return None

    return rule


def _weights_file(path: str) -> str | None:
    return None if os.path.isfile(path) else f"must be the path of a local weights file; {path!r} does not exist"


def _img_size(value: Any) -> str | None:
    size = opt.Int(min=1)
    if size.problem(value) is None:
        return None
    if isinstance(value, list | tuple) and len(value) == 2 and all(size.problem(v) is None for v in value):
        return None
    return f"must be a positive integer (or a [height, width] pair), got {value!r}"


def _one_source(options: dict[str, Any]) -> Problems:
    if options.get("weights") is not None and options.get("pretrained") is True:
        return [opt.Problem("weights", "give either pretrained = true or weights = \"path\", not both")]
    return []


_SOURCE = {
    "pretrained": opt.Bool(False, doc="ImageNet weights (offline only for tf_efficientnet_lite0)"),
    "weights": opt.Str(None, nullable=True, rule=_weights_file, doc="a local .safetensors or torch file"),
    "crop_pct": opt.Float(None, gt=0, max=1, nullable=True, doc="fraction of each side kept at evaluation"),
}

TIMM = opt.Options(
    "model 'timm'",
    extra=_one_source,
    arch=opt.Str(opt.REQUIRED, rule=_arch_rule(), doc="any timm architecture name"),
    drop_rate=opt.Float(0.0, min=0, lt=1),
    drop_path_rate=opt.Float(0.0, min=0, lt=1),
    img_size=opt.Any_(None, rule=_img_size, doc="input size, for models that take one (ViTs)"),
    **_SOURCE,
)
"""Options of the ``timm`` model plugin."""
TIMM_OPTIONS = TIMM.names

ATTENTION = opt.Options(
    "model 'convnext-attention'",
    extra=_one_source,
    arch=opt.Str("convnext_atto", rule=_arch_rule("convnext")),
    heads=opt.Int(8, min=1, doc="attention heads of the pooling query"),
    dropout=opt.Float(0.0, min=0, lt=1),
    **_SOURCE,
)
ATTENTION_DEFAULTS: dict[str, Any] = {name: option.default for name, option in ATTENTION.spec.items()}
"""Options of the ``convnext-attention`` model plugin and their defaults."""


def _given(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k != "plugin"}


def check_crop(options: dict[str, Any]) -> Problems:
    """``crop_pct``, when given, is the fraction of each side kept at evaluation, in (0, 1]."""
    found = _SOURCE["crop_pct"].problem(options.get("crop_pct"))
    return [opt.Problem("crop_pct", found)] if found else []


def check_timm(options: dict[str, Any]) -> Problems:
    """Validate options of the ``timm`` model plugin (a ``plugin`` key is ignored).

    Returns:
        One :class:`harness.Problem` per problem; empty when all is well.
    """
    return TIMM.check(_given(options))


def check_attention(options: dict[str, Any]) -> Problems:
    """Validate options of the ``convnext-attention`` model plugin (a ``plugin`` key is ignored).

    Returns:
        One :class:`harness.Problem` per problem; empty when all is well.
    """
    return ATTENTION.check(_given(options))


def raise_problems(plugin: str, problems: Problems) -> None:
    """Raise one ``HarnessError`` listing every problem, if there are any."""
    if problems:
        raise HarnessError(f"model {plugin!r}: " + "; ".join(f"{k}: {m}" if k else m for k, m in problems))
