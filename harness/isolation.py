"""Per-cell isolation: nothing one cell raises ends the matrix, except the user's Ctrl-C.

A plugin may raise anything, ``SystemExit`` (a model factory calling ``sys.exit``) and
``KeyboardInterrupt`` included. Only a ``KeyboardInterrupt`` that follows a real SIGINT
is the user's; it ends the run (finished cells are kept, the interrupted one resumes).
Every other exception, and any write the run store refuses (a full disk), fails just
that cell, with a plain reason in its ``status.json`` when the disk still lets it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, short_reason
from harness.store import STATUS, StoreWriteError, atomic_write_json

_state = {"watching": False, "sigint_at": 0.0}


def watch_interrupts() -> None:
    """Note the time of every SIGINT, so a ``KeyboardInterrupt`` can be told apart from one
    a plugin raised. Idempotent; only the main thread can install signal handlers."""
    if _state["watching"] or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # someone else handles SIGINT: leave it
        return

    def on_sigint(signum: int, frame: Any) -> None:
        _state["sigint_at"] = time.monotonic()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
    _state["watching"] = True


def user_interrupted(since: float) -> bool:
    """Whether a SIGINT arrived after ``since`` (``time.monotonic()``), or nobody is watching."""
    return not _state["watching"] or _state["sigint_at"] >= since


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C back until the block is over, then deliver it.

    For a few steps that must not be cut between them: a SIGINT inside ``Thread.start``
    leaves a thread that runs but cannot be joined. Off the main thread (no signal can be
    handled there) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[tuple[int, Any]] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            if callable(previous):
                previous(*held[0])
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)


def reason_of(exc: BaseException) -> str:
    """The one-line reason recorded for a failed cell."""
    if isinstance(exc, HarnessError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"SystemExit: plugin code called sys.exit({exc.code!r})"
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt raised by plugin code (not a Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"


def record_failure(cell_dir: Path, config: dict[str, Any], exc: BaseException, prefix: str,
                   echo: Callable[[str], None]) -> str:
    """Write ``status.json`` = failed with the reason; never raises for a refused write."""
    reason = reason_of(exc)
    try:
        if not (cell_dir / "config.json").exists():
            atomic_write_json(cell_dir / "config.json", config)
        atomic_write_json(cell_dir / STATUS, {"status": "failed", "reason": reason,
                                              "traceback": "".join(traceback.format_exception(exc))})
    except (StoreWriteError, OSError) as write_exc:
        echo(f"{prefix}: FAILED: {short_reason(reason)} (and its failure could not be recorded: {write_exc}; "
             "it counts as not done and runs again next time)")
        return reason
    echo(f"{prefix}: FAILED: {short_reason(reason, cell_dir / STATUS)}")
    return reason


def guarded(run: Callable[[], None], cell_dir: Path, config: dict[str, Any], prefix: str,
            echo: Callable[[str], None], on_error: Callable[[BaseException], None]) -> None:
    """Run one cell's work; whatever it raises fails only that cell (see the module docstring)."""
    watch_interrupts()
    started = time.monotonic()
    try:
        run()
    except KeyboardInterrupt:
        if user_interrupted(started):
            raise
        exc: BaseException = KeyboardInterrupt()
        record_failure(cell_dir, config, exc, prefix, echo)
        _notify(on_error, exc, prefix, echo)
    except BaseException as exc:  # noqa: BLE001 - isolation is the point: SystemExit from a plugin included
        record_failure(cell_dir, config, exc, prefix, echo)
        _notify(on_error, exc, prefix, echo)


def _notify(on_error: Callable[[BaseException], None], exc: BaseException, prefix: str,
            echo: Callable[[str], None]) -> None:
    try:
        on_error(exc)
    except Exception as hook_exc:  # noqa: BLE001 - an observer's bug must not end the matrix either
        echo(f"{prefix}: a harness_cell_error hook failed: {type(hook_exc).__name__}: {hook_exc}")
