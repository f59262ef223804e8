"""The ``ray`` backend: each cell a Ray task, claimed in the task through the same leases.

Ray's own task retries are off (``max_retries=0``): a cell that fails is retried ``retries``
times inside its task, and a task whose worker process dies is submitted again at most
``retries`` times, then recorded as failed, so ``[execution] retries`` means the same on
every backend.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from harness.errors import HarnessError
from harness.execution.worker import Round

_CACHE: dict[tuple[str, str, float], Round] = {}  # one plan per Ray worker process and experiment


def _ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports to the outside
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # every cell's progress line, not "repeated 7x"
    try:
        import ray
    except ImportError:
        raise HarnessError("backend \"ray\" needs Ray: pip install 'harness[ray]'") from None
    return ray


def _init(ray: Any, r: Round) -> bool:
    """Connect to ``address``, or start a Ray on 127.0.0.1 only; True when this call started it."""
    if ray.is_initialized():
        return False
    s = r.settings
    address = s.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=_reachable(address), include_dashboard=False, log_to_driver=True, configure_logging=False)
    else:
        _loopback_only()
        cpus = s.num_cpus or float(s.threads_per_worker or 1)
        ray.init(num_cpus=max(1, int(round(s.workers * cpus))), num_gpus=_local_gpus(r), include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=True, configure_logging=False)
    return True


def _reachable(address: str) -> str:
    """The ``host:port`` of a running cluster to connect to, or a clear error at once.

    Ray itself waits for an unreachable cluster for many minutes, and swaps a loopback
    host for the machine's outward address, so a cluster started on 127.0.0.1 (``ray start
    --head --node-ip-address 127.0.0.1``) is reached only with its switch off here as well.
    ``ray://`` (Ray Client) addresses are passed on unchanged.
    """
    if address.startswith("ray://"):
        return address
    if address == "auto":
        from ray._private.services import get_ray_address_from_environment

        try:
            address = get_ray_address_from_environment("auto", None)
        except ConnectionError:
            raise HarnessError('[execution] address = "auto" found no Ray running on this machine: start one with '
                               "`ray start --head`, or give the cluster's host:port") from None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise HarnessError(f"[execution] address {address!r} is not host:port (or \"auto\", or ray://host:port)")
    host = host.strip("[]")
    if host == "localhost" or host.startswith("127.") or host == "::1":
        _loopback_only()
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise HarnessError(f"no Ray cluster answers at {address} ({exc.strerror or exc}): start its head with "
                           f"`ray start --head --port {port}`, or correct [execution] address") from None
    return address


def _loopback_only() -> None:
    """Keep a local Ray on 127.0.0.1.

    ``ray.init(_node_ip_address="127.0.0.1")`` alone is not enough: Ray swaps a loopback
    address for the machine's outward one, and its servers then listen on every interface.
    It keeps loopback only where clusters are off (its macOS/Windows default), a switch read
    from ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when Ray is imported; set it for this process
    and for the processes Ray starts.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


def _local_gpus(r: Round) -> int:
    from harness.execution.settings import _visible_gpus

    return _visible_gpus() if str(r.experiment.train.get("device", "cpu")) != "cpu" else 0


def _resources(r: Round) -> dict[str, float]:
    s = r.settings
    cpus = s.num_cpus if s.num_cpus is not None else float(s.threads_per_worker or 1)
    gpus = s.num_gpus if s.num_gpus is not None else (float(s.gpus_per_cell) if _local_gpus(r) else 0.0)
    return {"num_cpus": cpus, "num_gpus": gpus}


def run_on_ray(r: Round) -> dict[str, str]:
    """Submit one task per cell still to do; resubmit cells other workers hold until they settle."""
    from harness.execution.claims import Claims, worker_name
    from harness.execution.pool import _spec

    ray = _ray()
    started_here = _init(ray, r)
    try:
        task = ray.remote(max_retries=0, retry_exceptions=False)(cell_task)
        options = _resources(r)
        spec = _spec(r)
        claims = Claims(r.root, worker_name(), r.settings.lease_seconds)
        claims.sweep()
        from harness.execution.worker import Progress

        by_id = {c.id: c for c in r.cells}
        left = [c for c in r.cells if not r.settled(c, claims.read(c.id))]
        r.echo(f"ray: {len(left)} cell task(s), {options['num_cpus']:g} CPU / {options['num_gpus']:g} GPU each")
        refs = {task.options(**options).remote(spec, c.id): c.id for c in left}
        outcomes: dict[str, str] = {}
        crashes: dict[str, int] = {}
        while refs:
            (ref,), _ = ray.wait(list(refs), num_returns=1)
            cell_id = refs.pop(ref)
            try:
                outcome, worker, seconds = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the task's worker process died
                crashes[cell_id] = crashes.get(cell_id, 0) + 1
                if crashes[cell_id] > r.settings.retries:
                    _record_crash(r, by_id[cell_id], exc)
                    outcomes[cell_id] = "failed"
                    continue
                outcome = "busy"
            if outcome == "busy":  # another worker holds it (or its worker died): look again soon
                time.sleep(r.settings.poll_seconds)
                refs[task.options(**options).remote(spec, cell_id)] = cell_id
            elif outcome != "settled":
                outcomes[cell_id] = outcome
                # said here: a worker's own last lines may still be in Ray's log pipe at shutdown
                Progress(r, claims, worker).finish(by_id[cell_id], outcome, seconds)
        return outcomes
    finally:
        if started_here:
            ray.shutdown()


def _record_crash(r: Round, cell: Any, exc: BaseException) -> None:
    from harness.execution.claims import Claims, worker_name
    from harness.store import STATUS, atomic_write_json

    reason = f"the Ray worker running this cell died: {type(exc).__name__}"
    atomic_write_json(r.root / cell.id / STATUS, {"status": "failed", "reason": reason,
                                                  "traceback": "".join(traceback.format_exception(exc))})
    claims = Claims(r.root, worker_name(), r.settings.lease_seconds)
    lease = claims.try_claim(cell.id)
    if lease is not None:
        claims.release(cell.id, "failed")
    r.echo(f"{r.prefix(cell)}: FAILED: {reason}")


def cell_task(spec: dict[str, Any], cell_id: str) -> tuple[str, str, float]:
    """Inside a Ray worker: claim ``cell_id`` and train it.

    Returns:
        ``(outcome, worker, seconds)``; outcome ``"busy"`` when another worker holds the cell,
        ``"settled"`` when there was nothing to do.
    """
    from harness.execution.claims import Claims, worker_name
    from harness.execution.pool import load_round
    from harness.execution.settings import Execution
    from harness.execution.worker import Progress, run_claimed

    settings = Execution(**spec["settings"])
    import torch

    torch.set_num_threads(max(1, int(settings.num_cpus or settings.threads_per_worker or 1)))
    key = (spec["path"], spec["root"], os.stat(spec["path"]).st_mtime)
    if key not in _CACHE:
        _CACHE[key] = load_round(spec, settings)[0]  # kept for the next cell: its trackers stay attached
    r = _CACHE[key]
    r.started, r.fresh, r.settings = spec["started"], spec["fresh"], settings
    cell = next(c for c in r.cells if c.id == cell_id)
    claims = Claims(r.root, worker_name("ray"), settings.lease_seconds)
    if r.settled(cell, claims.read(cell_id)):
        return "settled", claims.worker, 0.0
    lease = claims.try_claim(cell_id, settled=lambda prev: r.settled(cell, prev))
    if lease is None:
        return ("settled" if r.settled(cell, claims.read(cell_id)) else "busy"), claims.worker, 0.0
    started = time.time()
    progress = Progress(r, claims, claims.worker)
    progress.say_finish = False  # the driver says it
    outcome = run_claimed(r, claims, cell, lease, progress)
    return outcome, claims.worker, time.time() - started
