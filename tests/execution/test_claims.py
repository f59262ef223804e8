"""Cell leases: one holder at a time, heartbeats keep a lease, silence or death frees it."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.execution.claims import CLAIMS, Claims, worker_name


def test_second_worker_cannot_claim_a_held_cell(tmp_path):
    a, b = Claims(tmp_path, "a"), Claims(tmp_path, "b")
    lease = a.try_claim("cell")
    assert lease is not None and lease.worker == "a" and lease.attempts == 1
    assert b.try_claim("cell") is None
    assert b.read("cell").worker == "a" and b.read("cell").state == "running"
    a.release("cell", "done")
    record = b.read("cell")
    assert (record.state, record.worker) == ("done", "a")
    # a settled cell is not claimed again when the caller says so
    assert b.try_claim("cell", settled=lambda prev: prev is not None and prev.state == "done") is None
    assert b.try_claim("cell") is not None  # without that rule (e.g. --fresh) it can be


def test_silent_lease_is_taken_over_and_counted(tmp_path):
    claims_dir = tmp_path / CLAIMS
    claims_dir.mkdir()
    stale = {"state": "running", "worker": "far:1", "host": "another-host", "pid": 1, "since": time.time() - 100,
             "heartbeat": time.time() - 10, "at": time.time() - 100, "attempts": 1}
    (claims_dir / "cell.json").write_text(json.dumps(stale))
    strict = Claims(tmp_path, "b", lease_seconds=30)
    assert strict.try_claim("cell") is None  # 10 s of silence is within a 30 s lease
    patient = Claims(tmp_path, "b", lease_seconds=5)
    lease = patient.try_claim("cell")
    assert lease is not None
    assert (lease.took_over, lease.attempts) == ("far:1", 2)
    patient.release("cell", "failed")


def test_dead_holder_on_this_host_is_taken_over_at_once(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    import socket

    (tmp_path / CLAIMS).mkdir()
    (tmp_path / CLAIMS / "cell.json").write_text(json.dumps(
        {"state": "running", "worker": f"x:{pid}", "host": socket.gethostname(), "pid": pid, "since": time.time(),
         "heartbeat": time.time(), "at": time.time(), "attempts": 1}))
    lease = Claims(tmp_path, "b", lease_seconds=3600).try_claim("cell")
    assert lease is not None and lease.took_over == f"x:{pid}"


def test_heartbeat_keeps_a_lease_longer_than_lease_seconds(tmp_path):
    holder = Claims(tmp_path, "a", lease_seconds=0.4)
    other = Claims(tmp_path, "b", lease_seconds=0.4)
    first = holder.try_claim("cell")
    time.sleep(1.2)  # three lease lengths
    assert other.try_claim("cell") is None
    assert holder.read("cell").heartbeat > first.heartbeat + 0.5
    holder._stop_heartbeat("cell")  # the holder hangs: no more beats
    time.sleep(0.8)
    taken = other.try_claim("cell")
    assert taken is not None and taken.took_over == "a"
    holder.release("cell", "done")  # the late holder must not overwrite the new lease
    assert other.read("cell").worker == "b" and other.read("cell").state == "running"
    other.release("cell", "done")


def _race(root: str, name: str, cells: int, out) -> None:
    claims = Claims(Path(root), name)
    won = [f"c{i}" for i in range(cells) if claims.try_claim(f"c{i}") is not None]
    out.put((name, won))


def test_racing_processes_claim_each_cell_once(tmp_path):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), f"w{i}", 30, out)) for i in range(4)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    won = [c for cells in results.values() for c in cells]
    assert sorted(won) == sorted(f"c{i}" for i in range(30))  # every cell once, none twice


def test_worker_name_names_host_and_process():
    import socket

    assert worker_name() == f"{socket.gethostname()}:{os.getpid()}"
    assert worker_name("w2").endswith(f":{os.getpid()}/w2")


def test_sweep_removes_writes_cut_short_and_spares_one_in_progress(tmp_path):
    """A kill -9 during a record write leaves ``.<cell>.json.<random>.tmp``; the next worker
    deletes it, unless that cell's lock is held (a live worker is writing it)."""
    claims = Claims(tmp_path, "a")
    claims.try_claim("dead")
    claims.release("dead", "done")
    folder = tmp_path / CLAIMS
    cut_short = [folder / ".dead.json.x1y2.tmp", folder / ".published.json.a9b8.tmp"]
    live = folder / ".busy.json.q7w8.tmp"
    for path in [*cut_short, live]:
        path.write_text('{"state": "run')
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock\n"
        f"with FileLock({str(folder / 'busy.lock')!r}):\n"
        "    print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert Claims(tmp_path, "b").sweep() == 2
        assert [p.exists() for p in cut_short] == [False, False]
        assert live.exists()
        assert Claims(tmp_path, "b").read("dead").state == "done"  # the record itself is untouched
    finally:
        holder.kill()
        holder.wait()
    assert Claims(tmp_path, "b").sweep() == 1 and not live.exists()
