"""The Ray backend on a local Ray started on loopback: same leaderboard, nothing listening outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from loopback import free_port
from multiworker import assert_same_results, run, training_starts

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")


def _listening() -> dict[int, str]:
    """Socket inode -> local address of every TCP socket in LISTEN state on this host."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                out[int(fields[9])] = fields[1].split(":")[0]
    return out


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(parts[1]), []).append(int(stat.parent.name))
    seen, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _socket_inodes(pids: set[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        except OSError:
            continue
    return inodes


# 127.0.0.1, ::ffff:127.0.0.1 and ::1 as /proc/net/tcp* writes them
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def test_local_ray_listens_on_loopback_only(eight_cells):
    from harness.config import load_experiment
    from harness.execution.ray_tasks import _init
    from harness.execution.settings import resolve
    from harness.execution.worker import Round
    from harness.plugins import build_plugins

    plugins = build_plugins()
    experiment = load_experiment(eight_cells(), plugins)
    r = Round(experiment, plugins, type("P", (), {"cells": [], "folds": []})(), Path("."), False, 0.0,
              resolve({"backend": "ray", "workers": 1}), False, print)
    assert _init(ray, r)
    try:
        ours = _socket_inodes(_descendants(os.getpid()) | {os.getpid()})
        addresses = {addr for inode, addr in _listening().items() if inode in ours}
        assert addresses, "Ray started no listening socket we could see"
        assert addresses <= LOOPBACK, addresses
    finally:
        ray.shutdown()


def test_ray_backend_gives_the_local_leaderboard(eight_cells, reference, tmp_path):
    path = eight_cells()
    done = run(path, tmp_path / "runs", tmp_path / "lb", "--backend", "ray", "--workers", "2", cwd=tmp_path,
               RAY_DEDUP_LOGS="0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ray: 8 cell task(s), 1 CPU / 0 GPU each" in done.stdout
    assert set(training_starts(done.stdout).values()) == {1} and len(training_starts(done.stdout)) == 8
    assert done.stdout.count("/ray in ") == 8  # one finish line per cell, naming the Ray worker
    ref_runs, ref_board, _ = reference
    assert_same_results(ref_runs, ref_board, tmp_path / "runs" / "eight", tmp_path / "lb" / "eight")


@pytest.fixture
def ray_cluster(tmp_path):
    """A Ray head started with ``ray start`` on 127.0.0.1, as a user starts a cluster's head node."""
    import shutil
    import subprocess
    import sys

    port = free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    cli = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
    temp = Path("/tmp") / f"ray-{port}"  # Ray's socket paths must stay short
    started = subprocess.run([*cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                              "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
                              "--temp-dir", str(temp)], env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*cli, "stop", "--force"], env=env, capture_output=True, timeout=180)
        shutil.rmtree(temp, ignore_errors=True)


def test_running_cluster_is_used_by_address(ray_cluster, eight_cells, reference, tmp_path):
    path = eight_cells(extra=f"""
        [execution]
        backend = "ray"
        address = "{ray_cluster}"
        """)
    done = run(path, tmp_path / "runs", tmp_path / "lb", cwd=tmp_path, RAY_DEDUP_LOGS="0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ray: 8 cell task(s), 1 CPU / 0 GPU each" in done.stdout
    assert done.stdout.count("/ray in ") == 8
    assert set(training_starts(done.stdout).values()) == {1} and len(training_starts(done.stdout)) == 8
    ref_runs, ref_board, _ = reference
    assert_same_results(ref_runs, ref_board, tmp_path / "runs" / "eight", tmp_path / "lb" / "eight")


def test_address_nobody_answers_at_fails_at_once(eight_cells, tmp_path):
    port = free_port()
    path = eight_cells(extra=f"""
        [execution]
        backend = "ray"
        address = "127.0.0.1:{port}"
        """)
    done = run(path, tmp_path / "runs", tmp_path / "lb", cwd=tmp_path, timeout=120)  # Ray alone retries for minutes
    assert done.returncode != 0
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in done.stderr, done.stdout + done.stderr
    assert f"ray start --head --port {port}" in done.stderr
    assert not list((tmp_path / "runs" / "eight").glob("*/status.json"))  # nothing ran, nothing recorded
