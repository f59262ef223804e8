"""A cell's state at the end of each epoch, so an interrupted cell continues where it was.

Saving runs in a background thread so the next epoch does not wait for it: the training
loop only pays for a copy of the tensors. The file is replaced atomically, so a kill at any
moment leaves either the previous epoch's state or this one's, never half a file.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import torch

from harness.isolation import interrupts_held


def _detached_copy(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _detached_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_detached_copy(v) for v in obj)
    return obj


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Tensors, numbers, strings and containers only, so loading never unpickles code.

    No fsync: the point is surviving a killed process, which the page cache does; after a
    power loss an unreadable file only means the cell starts over.
    """
    from harness.store import write_failure

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_failure(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, (OSError, RuntimeError)):  # torch reports a full disk as "unexpected pos"
            raise write_failure(path, exc) from exc
        raise


class StateWriter:
    """Writes resume states in the background, one at a time, newest wins."""

    def __init__(self, path: Path):
        self.path = path
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, state: dict[str, Any]) -> None:
        snapshot = _detached_copy(state)  # the loop may change the tensors as soon as we return
        self.wait()
        thread = threading.Thread(target=self._write, args=(snapshot,), daemon=True)
        with interrupts_held():  # a Ctrl-C inside start() would leave a thread wait() cannot join
            thread.start()
            self._thread = thread

    def _write(self, state: dict[str, Any]) -> None:
        try:
            save_state(self.path, state)
        except BaseException as exc:  # noqa: BLE001 - reported on the training thread by wait()
            self._error = exc

    def wait(self) -> None:
        """Block until the write in flight has landed; re-raise its error, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none or it cannot be read safely."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - an unreadable file means starting the cell over
        return None
