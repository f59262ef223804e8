"""How a run executes: ``[execution]`` in the experiment file, overridden by ``--workers`` / ``--backend``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

BACKENDS = ("local", "process", "ray")


@dataclass(frozen=True)
class Execution:
    """Resolved execution settings.

    Attributes:
        backend: ``"local"`` (cells in this process), ``"process"`` (a pool of spawned worker
            processes) or ``"ray"`` (each cell a Ray task).
        workers: cells run at once by this command (process pool size; local Ray CPU slots).
        threads_per_worker: torch threads in each worker; None keeps torch's default.
        gpus_per_cell: GPUs given to each process-pool worker on CUDA.
        num_cpus, num_gpus: Ray resources of one cell task.
        address: Ray cluster address (``"host:6379"``, ``"auto"`` or ``ray://host:10001``); None starts a
            local Ray on 127.0.0.1.
        retries: extra attempts of a failed cell before it is recorded as failed.
        lease_seconds: a claim not refreshed for this long is taken over by another worker.
        poll_seconds: how often an idle worker looks again at cells other workers hold.
        announce: print one line per cell start/finish with the worker name, a bar and an ETA
            (on whenever ``[execution]`` or a flag asks for a backend; off keeps the classic output).
    """

    backend: str = "local"
    workers: int = 1
    threads_per_worker: int | None = None
    gpus_per_cell: int = 1
    num_cpus: float | None = None
    num_gpus: float | None = None
    address: str | None = None
    retries: int = 0
    lease_seconds: float = 60.0
    poll_seconds: float = 2.0
    announce: bool = False


def _visible_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001 - no usable CUDA means CPU workers
        return 0


def resolve(config: dict[str, Any] | None, *, workers: int | None = None, backend: str | None = None,
            device: str = "cpu") -> Execution:
    """Merge the experiment's ``[execution]`` table with command-line overrides.

    ``--workers N`` with N > 1 and no backend anywhere means the process pool.
    """
    table = dict(config or {})
    if backend is not None:
        table["backend"] = backend
    if workers is not None:
        if workers < 1:
            raise HarnessError(f"--workers must be >= 1, got {workers}")
        table["workers"] = workers
        if workers > 1 and "backend" not in table:
            table["backend"] = "process"
    name = table.get("backend", "local")
    if name not in BACKENDS:
        raise HarnessError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    gpus_per_cell = int(table.get("gpus_per_cell", 1))
    n = table.get("workers")
    if n is None:
        if name == "local":
            n = 1
        elif device != "cpu" and (gpus := _visible_gpus()) and gpus_per_cell > 0:
            n = max(1, gpus // gpus_per_cell)  # one cell per visible GPU (or group of them)
        else:
            n = os.cpu_count() or 1
    threads = table.get("threads_per_worker")
    if threads is None and (name != "local" or n > 1):
        threads = max(1, (os.cpu_count() or 1) // n)  # 1 when several workers share each core
    lease = float(table.get("lease_seconds", 60.0))
    return Execution(
        backend=name,
        workers=int(n),
        threads_per_worker=threads,
        gpus_per_cell=gpus_per_cell,
        num_cpus=table.get("num_cpus"),
        num_gpus=table.get("num_gpus"),
        address=table.get("address"),
        retries=int(table.get("retries", 0)),
        lease_seconds=lease,
        poll_seconds=float(table.get("poll_seconds", min(2.0, max(lease / 4, 0.2)))),
        announce=config is not None or workers is not None or backend is not None,
    )
