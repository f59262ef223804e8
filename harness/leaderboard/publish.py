"""Writing a built leaderboard to its folder: every file through :func:`publish`.

A leaderboard folder holds ``index.html``, ``results.json``, ``results.csv``, one page
per row under ``rows/`` and the wrong predictions under ``wrong/``. Each file is
replaced atomically; ``index.html`` lands last, since it presents the others, and files
of a previous build that this one no longer has are removed from ``rows/`` and ``wrong/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.store import atomic_write_json, atomic_write_text

INDEX = "index.html"
MANAGED = {"rows": "*.html", "wrong": "*.csv"}  # folders whose stale files a build removes


def publish(out_dir: Path, files: Mapping[str, Any]) -> None:
    """Write ``files`` (path relative to ``out_dir`` to its content) into ``out_dir``.

    Args:
        out_dir: the leaderboard folder (created if needed).
        files: every file of the leaderboard, ``index.html`` included: a text, or
            for a ``.json`` file the object (written as the run store writes JSON).
    """
    out_dir = Path(out_dir)
    for name in sorted(files, key=lambda n: n == INDEX):  # the index last
        content = files[name]
        if isinstance(content, str):
            atomic_write_text(out_dir / name, content)
        else:
            atomic_write_json(out_dir / name, content)
    for folder, pattern in MANAGED.items():
        found = sorted((out_dir / folder).glob(pattern)) if (out_dir / folder).is_dir() else []
        for stale in found:
            if f"{folder}/{stale.name}" not in files:
                stale.unlink()
