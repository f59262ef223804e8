"""Writing a built leaderboard to its folder: every file through :func:`publish`.

A leaderboard folder holds ``index.html``, ``results.json``, ``results.csv``, one page
per row under ``rows/`` and the wrong predictions under ``wrong/``. The folder is
replaced as a whole: every file is written into a sibling folder, which is then swapped
in (:mod:`harness.leaderboard.folder`), so a reader, or a disk that fills up halfway,
never sees files of two builds side by side, and files a build no longer has are gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.leaderboard.folder import replaced_as_a_whole
from harness.store import atomic_write_json, atomic_write_text

INDEX = "index.html"


def publish(out_dir: Path, files: Mapping[str, Any]) -> None:
    """Write ``files`` (path relative to ``out_dir`` to its content) into ``out_dir``.

    Args:
        out_dir: the leaderboard folder (created if needed).
        files: every file of the leaderboard, ``index.html`` included: a text, or
            for a ``.json`` file the object (written as the run store writes JSON).
    """
    with replaced_as_a_whole(Path(out_dir)) as stage:
        for name in sorted(files):
            content = files[name]
            if isinstance(content, str):
                atomic_write_text(stage / name, content)
            else:
                atomic_write_json(stage / name, content)
