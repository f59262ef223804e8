"""The ``process`` backend: N spawned worker processes on this machine, each running the claim loop."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from harness.execution.worker import Round


def _gpu_groups(r: Round, n: int) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` of each worker: ``gpus_per_cell`` devices each, when CUDA is in use."""
    from harness.execution.settings import _visible_gpus

    per = r.settings.gpus_per_cell
    visible = _visible_gpus() if str(r.experiment.train.get("device", "cpu")) != "cpu" else 0
    if not visible or per < 1:
        return [None] * n
    ids = os.environ.get("CUDA_VISIBLE_DEVICES")
    return device_groups([x for x in ids.split(",") if x] if ids else [str(i) for i in range(visible)], per, n)


def device_groups(devices: list[str], per: int, n: int) -> list[str]:
    """Split ``devices`` into ``n`` groups of ``per`` for the workers, in order.

    More workers than whole groups wrap around and share devices (``per`` more than there
    are devices gives each worker all of them).
    """
    per = min(per, len(devices))
    return [",".join(devices[(i * per + k) % len(devices)] for k in range(per)) for i in range(n)]


def _spec(r: Round) -> dict[str, Any]:
    board = None if r.board is None else [str(Path(r.board[0]).resolve()), r.board[1]]
    return {"path": str(Path(r.experiment.path).resolve()), "root": str(r.root.resolve()), "fresh": r.fresh,
            "started": r.started, "settings": dataclasses.asdict(r.settings), "board": board}


def run_pool(r: Round) -> dict[str, str]:
    """Start the workers, replace any that die while cells remain, and wait for all of them."""
    import multiprocessing as mp

    from harness.execution.claims import Claims, worker_name

    ctx = mp.get_context("spawn")  # no forked torch state or threads
    claims = Claims(r.root, worker_name(), r.settings.lease_seconds)
    left = [c for c in r.cells if not r.settled(c, claims.read(c.id))]
    n = max(1, min(r.settings.workers, len(left)))
    groups = _gpu_groups(r, n)
    spec = _spec(r)
    threads = r.settings.threads_per_worker or 1
    r.echo(f"process pool: {n} worker(s), {threads} thread(s) each" + (
        f", GPUs {' | '.join(g for g in groups if g)}" if any(groups) else ""))

    def start(i: int) -> Any:
        p = ctx.Process(target=child, args=(spec, f"w{i + 1}", groups[i]), name=f"harness-w{i + 1}")
        p.start()
        return p

    procs = {i: start(i) for i in range(n)}
    restarts = 0
    try:
        while procs:
            for i, p in list(procs.items()):
                p.join(timeout=0.2)
                if p.exitcode is None:
                    continue
                del procs[i]
                unsettled = [c for c in r.cells if not r.settled(c, claims.read(c.id))]
                if p.exitcode != 0 and unsettled and restarts < len(r.cells):
                    restarts += 1
                    r.echo(f"process pool: worker w{i + 1} died (exit code {p.exitcode}); starting another")
                    procs[i] = start(i)
    except KeyboardInterrupt:
        for p in procs.values():  # they got the same SIGINT and release their cells; give them a moment
            p.join(timeout=10)
            if p.exitcode is None:
                p.terminate()
        raise
    return {}


def child(spec: dict[str, Any], tag: str, gpus: str | None) -> None:
    """Entry point of one pool worker (a fresh interpreter)."""
    from harness.execution.settings import Execution

    settings = Execution(**spec["settings"])
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus  # before torch initialises CUDA
    threads = settings.threads_per_worker or 1
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    from harness.execution.claims import worker_name
    from harness.execution.worker import work

    r, detach = load_round(spec, settings)
    try:
        try:
            work(r, worker_name(tag), elsewhere=False)  # the parent shows every worker's lines already
        finally:
            detach()  # trackers and mirror end with the cells, before publishing, as in one process
        if r.board is not None:
            publish_round(r, worker_name(tag))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def publish_round(r: Round, worker: str) -> None:
    """Write ``run.json`` and the leaderboard, unless another worker of the round already did.

    Every worker gets here once all cells are settled; the first to take the run lock
    publishes, warm from its cells (the pool's parent would pay every import afresh).
    """
    from harness.execution import publish_once
    from harness.runner import publish, write_run_record

    board, meta = r.board

    def build() -> Any:
        write_run_record(r.experiment, r.root, meta, r.echo)
        return publish(r.experiment, r.plan, r.root, r.plugins, Path(board), echo=r.echo)

    publish_once(r.root, [c.id for c in r.cells], r.started, build, worker)


def load_round(spec: dict[str, Any], settings: Any) -> tuple[Round, Any]:
    """Rebuild the plan in a worker process, from the experiment file and the installed plugins.

    Returns the round and a function that ends this worker's trackers and store mirror.
    """
    from harness.config import load_experiment
    from harness.console import say as echo
    from harness.plugins import build_plugins
    from harness.runner import plan

    plugins = build_plugins()
    experiment = load_experiment(spec["path"], plugins)
    the_plan = plan(experiment, plugins)

    from harness.store_remote import attach_store, detach_store
    from harness.tracking import attach, detach

    hub = attach(experiment, plugins, Path(spec["root"]))  # this worker's cells reach the trackers and the store too
    mirror = attach_store(experiment, plugins, Path(spec["root"]), [], echo, pull=False)

    def detached() -> None:
        detach(plugins, hub)
        detach_store(plugins, mirror)

    board = None if spec.get("board") is None else (Path(spec["board"][0]), spec["board"][1])
    return Round(experiment, plugins, the_plan, Path(spec["root"]), spec["fresh"], spec["started"], settings,
                 False, echo, board=board), detached

