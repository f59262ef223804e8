"""What the timm plugin needs to know about an architecture before building it, kept on disk.

Checking an experiment (``arch`` exists?) and planning its cells (the architecture's
mean, std, resize and crop) would import timm, and with it torch: seconds that a rerun
of a finished matrix otherwise never pays. Each answer is asked of timm once and kept in
``<cache_dir>/timm-facts-<timm version>.json``, so a new timm release asks again. A
damaged or unwritable file only means asking timm again.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _path() -> Path | None:
    import importlib.metadata

    from harness import cache_dir

    try:
        version = importlib.metadata.version("timm")
    except importlib.metadata.PackageNotFoundError:
        return None
    return cache_dir() / f"timm-facts-{version}.json"


@cache
def _known() -> dict[str, Any]:
    path = _path()
    try:
        found = json.loads(path.read_text()) if path is not None and path.exists() else {}
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _store() -> None:
    path = _path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(_known(), f, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # the next process asks timm again


def arch_facts(arch: str) -> dict[str, Any]:
    """``{"is_model": bool, "data_config": dict | None}`` of a timm architecture name."""
    known = _known()
    if arch not in known:
        import timm
        from timm.data import resolve_data_config

        is_model = bool(timm.is_model(arch))
        cfg = timm.get_pretrained_cfg(arch) if is_model else None
        config = resolve_data_config(pretrained_cfg=cfg.to_dict()) if cfg else None
        known[arch] = {"is_model": is_model,
                       "data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
                       if config else None}
        _store()
    return known[arch]
