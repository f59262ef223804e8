"""A leaderboard folder is replaced as a whole: built beside it, then swapped in.

Readers see the old folder or the new one, never a mix (``results.json`` of one run with
``index.html`` of another). On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``;
elsewhere two renames with a moment in between where the folder is absent.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from harness.store import write_failure

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextlib.contextmanager
def replaced_as_a_whole(out_dir: Path) -> Iterator[Path]:
    """Yield an empty sibling folder to write into; on success it becomes ``out_dir``.

    On any error the sibling is removed and ``out_dir`` is left as it was; an ``OSError``
    becomes a :class:`harness.store.StoreWriteError` naming the file.
    """
    out_dir = Path(out_dir)
    stage = out_dir.parent / f".{out_dir.name}.new-{uuid.uuid4().hex[:8]}"
    try:
        stage.mkdir(parents=True)
    except OSError as exc:
        raise write_failure(stage, exc) from exc
    try:
        yield stage
        _swap(stage, out_dir)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            raise write_failure(Path(exc.filename or out_dir), exc) from exc
        raise


def _swap(stage: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(stage, out_dir)
        return
    if _exchange(stage, out_dir):
        shutil.rmtree(stage, ignore_errors=True)  # now holds the old folder
        return
    old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out_dir, old)
    try:
        os.rename(stage, out_dir)
    except OSError:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2``); False where unsupported."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0
