"""The ``[[tracker]]`` blocks and the ``[store]`` table: where results go besides the run store.

Neither is part of any cell key: a tracker only observes and the store only mirrors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.config.fields import Field, check_section
from harness.config.problems import Problems

if TYPE_CHECKING:
    from harness.plugins import Plugins

STORE = {
    "uri": Field("str", None, lambda v: "://" in v or v.startswith("/"),
                 'must be an fsspec URL such as "s3://bucket/prefix" or "file:///path"', required=True),
    "checkpoints": Field("bool", True),
    "options": Field("table", {}),
}
"""``[store]``: ``uri`` of the mirror; ``checkpoints``: also download checkpoints of stored
cells (needed to add TTA rows later); ``options``: fsspec storage options (``endpoint_url``,
``key``, ``secret``, ``anon``, ...)."""


def check_trackers(problems: Problems, data: Any, plugins: Plugins) -> list[dict[str, Any]]:
    """Each ``[[tracker]]`` block: ``plugin`` names a registered tracker, options checked by it."""
    if not isinstance(data, list) or not all(isinstance(b, dict) for b in data):
        problems.add("tracker", "must be an array of tables ([[tracker]])")
        return []
    registry = plugins.registry("trackers")
    out = []
    for i, block in enumerate(data):
        path = f"tracker[{i}]"
        name = block.get("plugin")
        if not isinstance(name, str):
            problems.add(f"{path}.plugin", "is required: a tracker, one of " + ", ".join(registry.names()))
            continue
        if name not in registry:
            problems.add(f"{path}.plugin", registry.unknown_message(name) + problems.unknown_hint)
            continue
        check = registry.entry(name).check
        options = {k: v for k, v in block.items() if k != "plugin"}
        if check is not None:
            for option, message in check(options):
                problems.add(f"{path}.{option}" if option else path, message)
        out.append(dict(block))
    return out


def check_store(problems: Problems, data: Any) -> dict[str, Any]:
    """``[store]`` with defaults filled in."""
    store = check_section(problems, "store", data, STORE)
    if isinstance(store.get("uri"), str) and store["uri"].startswith("/"):
        store["uri"] = "file://" + store["uri"]
    return store
