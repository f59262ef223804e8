"""Cell leases: which worker trains which cell, visible to every process sharing the run store.

Each cell has a small JSON record in ``runs/<experiment>/.claims/<cell-id>.json``::

    {"state": "running" | "done" | "failed", "worker": "host:pid", "host", "pid",
     "since": <unix time>, "heartbeat": <unix time>, "at": <unix time>, "attempts": n}

Every read-modify-write of a record happens under ``<cell-id>.lock`` (a ``filelock`` lock:
``fcntl`` on POSIX, which NFSv4 and NFSv3 with lockd honour), so two workers never claim
the same cell. A running record is a lease: its holder refreshes ``heartbeat`` every
``lease_seconds / 4`` from a background thread; a lease whose heartbeat is older than
``lease_seconds``, or whose holder is a dead process on this host, may be taken over.
Leases compare wall clocks, so machines sharing a run store need synchronised clocks (NTP).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.store import atomic_write_json

CLAIMS = ".claims"
LOCK_TIMEOUT = 120.0  # seconds to wait for another worker's few-millisecond update


def worker_name(tag: str = "") -> str:
    """``host:pid`` (plus ``/tag`` for pool workers): unique across machines sharing a store."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}/{tag}" if tag else name


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@dataclass(frozen=True)
class Lease:
    """One cell's claim record as read from the store."""

    cell_id: str
    state: str
    worker: str
    host: str
    pid: int
    since: float
    heartbeat: float
    at: float
    attempts: int
    took_over: str = ""

    @classmethod
    def from_json(cls, cell_id: str, data: dict[str, Any]) -> Lease:
        return cls(cell_id, str(data.get("state", "running")), str(data.get("worker", "?")),
                   str(data.get("host", "")), int(data.get("pid", 0)), float(data.get("since", 0.0)),
                   float(data.get("heartbeat", 0.0)), float(data.get("at", 0.0)), int(data.get("attempts", 0)),
                   str(data.get("took_over", "")))

    def expired(self, lease_seconds: float, now: float | None = None) -> bool:
        """A running lease nobody keeps alive any more."""
        now = time.time() if now is None else now
        if now - self.heartbeat > lease_seconds:
            return True
        return self.host == socket.gethostname() and self.pid > 0 and not _pid_alive(self.pid)


class Claims:
    """The lease records of one experiment's run folder.

    Args:
        root: ``runs/<experiment>``.
        worker: this worker's name (:func:`worker_name`).
        lease_seconds: how long a silent lease stays valid.
    """

    def __init__(self, root: Path, worker: str, lease_seconds: float = 60.0):
        self.dir = Path(root) / CLAIMS
        self.worker = worker
        self.lease_seconds = float(lease_seconds)
        self._beating: dict[str, threading.Event] = {}

    def _lock(self, name: str, timeout: float = LOCK_TIMEOUT):
        from filelock import FileLock

        self.dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.dir / f"{name}.lock"), timeout=timeout)

    def sweep(self) -> int:
        """Delete the temporary files of record writes a killed worker cut short; returns how many.

        Every record is written under its lock (``published.json`` under the run lock), so a
        temporary file whose lock is free belongs to no write in progress.
        """
        from filelock import Timeout

        removed = 0
        for tmp in self.dir.glob(".*.json.*.tmp") if self.dir.is_dir() else ():
            name = tmp.name[1:].split(".json.", 1)[0]  # .<name>.json.<random>.tmp
            try:
                with self._lock(".run" if name == "published" else name, timeout=0):
                    tmp.unlink(missing_ok=True)
                    removed += 1
            except Timeout:  # a live write: not ours to touch
                continue
        return removed

    def _path(self, cell_id: str) -> Path:
        return self.dir / f"{cell_id}.json"

    def read(self, cell_id: str) -> Lease | None:
        """The record of ``cell_id``, or None when no worker ever claimed it (or it is unreadable)."""
        try:
            data = json.loads(self._path(cell_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Lease.from_json(cell_id, data) if isinstance(data, dict) else None

    def held_by_other(self, lease: Lease | None) -> bool:
        """A live lease of another worker."""
        return (lease is not None and lease.state == "running" and lease.worker != self.worker
                and not lease.expired(self.lease_seconds))

    def try_claim(self, cell_id: str, settled: Callable[[Lease | None], bool] | None = None) -> Lease | None:
        """Claim ``cell_id`` unless another live worker holds it; returns the new lease, or None.

        Args:
            settled: called with the previous record under the lock; if it returns True the
                cell needs no work (done or failed in this round) and is not claimed.
        """
        with self._lock(cell_id):
            previous = self.read(cell_id)
            if self.held_by_other(previous) or (settled is not None and settled(previous)):
                return None
            now = time.time()
            attempts = previous.attempts if previous is not None and previous.state == "running" else 0
            record = {"state": "running", "worker": self.worker, "host": socket.gethostname(), "pid": os.getpid(),
                      "since": now, "heartbeat": now, "at": now, "attempts": attempts + 1,
                      "took_over": previous.worker if previous is not None and previous.state == "running" else ""}
            atomic_write_json(self._path(cell_id), record)
        self._start_heartbeat(cell_id)
        return Lease.from_json(cell_id, record)

    def release(self, cell_id: str, state: str) -> None:
        """End this worker's lease, recording ``state`` ("done" or "failed") for the others."""
        self._stop_heartbeat(cell_id)
        with self._lock(cell_id):
            current = self.read(cell_id)
            if current is not None and current.worker != self.worker and current.state == "running":
                return  # our lease expired and someone else took the cell over: theirs now
            record = {"state": state, "worker": self.worker, "host": socket.gethostname(), "pid": os.getpid(),
                      "since": current.since if current else time.time(), "heartbeat": time.time(),
                      "at": time.time(), "attempts": current.attempts if current else 1}
            atomic_write_json(self._path(cell_id), record)

    def beat(self, cell_id: str) -> bool:
        """Refresh this worker's lease; False when it was lost to another worker."""
        with self._lock(cell_id):
            current = self.read(cell_id)
            if current is None or current.worker != self.worker or current.state != "running":
                return False
            path = self._path(cell_id)
            data = json.loads(path.read_text(encoding="utf-8"))
            data["heartbeat"] = time.time()
            atomic_write_json(path, data)
        return True

    def _start_heartbeat(self, cell_id: str) -> None:
        stop = threading.Event()
        self._beating[cell_id] = stop
        interval = max(self.lease_seconds / 4, 0.05)

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    if not self.beat(cell_id):
                        return
                except Exception:  # noqa: BLE001 - a failed beat is retried; expiry is the others' call
                    continue

        threading.Thread(target=loop, name=f"lease-{cell_id}", daemon=True).start()

    def _stop_heartbeat(self, cell_id: str) -> None:
        stop = self._beating.pop(cell_id, None)
        if stop is not None:
            stop.set()

    def all(self) -> dict[str, Lease]:
        """Every record in the folder, by cell id."""
        if not self.dir.is_dir():
            return {}
        out = {}
        for path in sorted(self.dir.glob("*.json")):
            if not path.name.startswith("."):
                lease = self.read(path.stem)
                if lease is not None:
                    out[path.stem] = lease
        return out

    def run_lock(self, timeout: float = LOCK_TIMEOUT):
        """A lock for decisions about the whole run (who publishes the leaderboard); ``timeout``
        -1 waits as long as its holder lives (the lock dies with its process)."""
        return self._lock(".run", timeout)
