"""Building TTA entries by name and checking a ``[tta]`` table before anything trains."""

from __future__ import annotations

from typing import Any, Literal

from harness.errors import HarnessError
from harness.tta.types import TTAMerge, TTAView

KINDS = {"view": TTAView, "merge": TTAMerge}


def kind_of(entry: Any) -> str:
    """``"view"``, ``"merge"``, or the type name of anything else."""
    for kind, cls in KINDS.items():
        if isinstance(entry, cls):
            return kind
    return type(entry).__name__


def resolve(name: str, kind: Literal["view", "merge"], registries: dict[str, Any]) -> Any:
    """Build the TTA entry ``name`` and check it is a ``kind`` (``"view"`` or ``"merge"``)."""
    registry = registries["tta"]
    if name not in registry:
        raise HarnessError(registry.unknown_message(name))
    entry = registry.get(name)()
    found = kind_of(entry)
    if found != kind:
        raise HarnessError(f"TTA entry {name!r} is a {found}, not a {kind} (harness.TTAView / harness.TTAMerge)")
    return entry


def check_tta(tta: dict[str, Any], registry: Any) -> list[tuple[str, str]]:
    """Problems of a ``[tta]`` table beyond unknown names, as ``(key, message)`` pairs.

    A view listed under ``merge`` (or a merge under ``views``) and a search without
    ``identity`` (its starting point) are caught here, before anything trains.
    """
    problems = []
    for key, kind in (("views", "view"), ("merge", "merge")):
        names = tta.get(key, [])
        for name in [names] if isinstance(names, str) else names:
            if name in registry:
                found = kind_of(registry.get(name)())
                if found != kind:
                    problems.append((key, f"{name!r} is a TTA {found}, not a {kind}"))
    if tta.get("search") and "identity" not in tta.get("views", []):
        problems.append(("views", 'the search starts from "identity": add it to views'))
    if tta.get("search") and "val" not in tta.get("splits", ["val"]):
        problems.append(("splits", 'the search chooses views on validation: add "val" to splits'))
    return problems


def forwards(views: list[TTAView]) -> int:
    """Images the model sees per input image for these views (the cost multiplier)."""
    return sum(v.forwards for v in views)
