"""Several workers on one run store: each cell trains once, results equal a single process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest
from multiworker import assert_same_results, env, harness_cmd, run, training_starts

pytestmark = pytest.mark.slow


def test_single_process_output_is_the_classic_one(reference):
    _, _, out = reference
    assert "started on" not in out and "process pool" not in out  # no [execution]: no new lines
    assert out.count(": done in ") == 8
    assert sorted(training_starts(out).values()) == [1] * 8
    assert "leaderboard: " in out


@pytest.mark.parametrize("n", [2, 4])
def test_processes_started_together_train_each_cell_once(n, eight_cells, reference, tmp_path):
    path = eight_cells()
    procs = [subprocess.Popen(harness_cmd(path, tmp_path / "runs", tmp_path / "lb"), cwd=tmp_path, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(n)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, "\n---\n".join(outs)
    starts = training_starts("\n".join(outs))
    assert sorted(starts) == sorted(p.name for p in (tmp_path / "runs" / "eight").iterdir()
                                    if p.is_dir() and not p.name.startswith("."))
    assert set(starts.values()) == {1}, starts  # every cell trained exactly once
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "eight" / ".claims").glob("*-*.json")]
    assert len(records) == 8 and {r["state"] for r in records} == {"done"}
    assert len({r["worker"] for r in records}) >= 2  # the cells really were split
    published = [o for o in outs if "\nleaderboard: " in o]
    assert len(published) == 1, outs  # the last to finish published; the others said who did
    assert sum("leaderboard (published by " in o for o in outs) == n - 1
    ref_runs, ref_board, _ = reference
    assert_same_results(ref_runs, ref_board, tmp_path / "runs" / "eight", tmp_path / "lb" / "eight")


def test_killed_worker_cell_is_taken_over_after_its_lease(eight_cells, reference, tmp_path):
    path = eight_cells(extra="""
        [execution]
        lease_seconds = 3
        poll_seconds = 0.5
        """)
    runs = tmp_path / "runs"
    victim = subprocess.Popen(harness_cmd(path, runs, tmp_path / "lb"), cwd=tmp_path, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # kill -9 once the victim has finished two epochs of a cell: a resume point and a live lease
    held = _running_lease(runs / "eight")["cell"]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert not (runs / "eight" / held / "status.json").exists()
    status = subprocess.run([*harness_cmd(path, runs, tmp_path / "lb")[:3], "status", str(path), "--runs-dir",
                             str(runs)], cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith(held))
    assert ("running" in line or "stalled" in line) and f":{victim.pid}" in line
    heir = run(path, runs, tmp_path / "lb", cwd=tmp_path)
    assert heir.returncode == 0, heir.stdout + heir.stderr
    assert f"{held}: started on" in heir.stdout and "taking over from" in heir.stdout
    assert f"{held}: interrupted before, continuing from its last finished epoch" in heir.stdout
    assert training_starts(heir.stdout).get(held) is None  # resumed at epoch >= 3, never restarted at 1
    ref_runs, ref_board, _ = reference
    assert_same_results(ref_runs, ref_board, runs / "eight", tmp_path / "lb" / "eight")
    after = subprocess.run([*harness_cmd(path, runs, tmp_path / "lb")[:3], "status", str(path), "--runs-dir",
                            str(runs)], cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    assert "8 cells: 8 done, 0 to do" in after.stdout


def test_process_pool_matches_local_and_shows_progress(eight_cells, reference, tmp_path):
    path = eight_cells()
    done = run(path, tmp_path / "runs", tmp_path / "lb", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "process pool: 2 worker(s), 1 thread(s) each" in done.stdout
    assert set(re.findall(r": started on \S+(/w\d)", done.stdout)) == {"/w1", "/w2"}
    finished = [x for x in done.stdout.splitlines() if ": done on " in x and " in " in x and "cells" in x]
    assert len(finished) == 8 and finished[-1].rstrip().endswith("8/8 cells")
    assert any("ETA " in x for x in finished)
    assert set(training_starts(done.stdout).values()) == {1} and len(training_starts(done.stdout)) == 8
    # a warm worker published (the parent imports no torch); the parent prints that build's table
    publisher = re.search(r"\nleaderboard \(published by (\S+)\): ", done.stdout)
    assert publisher and re.fullmatch(r".+:\d+/w[12]", publisher.group(1)), done.stdout
    assert re.search(r"^1 +toy-cnn width=\d", done.stdout, re.M)
    root, board = tmp_path / "runs" / "eight", tmp_path / "lb" / "eight"
    assert json.loads((root / "run.json").read_text())["finished"]
    assert (board / "stamp.json").stat().st_mtime_ns >= (root / "run.json").stat().st_mtime_ns  # drawn after it
    ref_runs, ref_board, _ = reference
    assert_same_results(ref_runs, ref_board, root, board)


def test_failed_cell_is_retried_then_recorded(eight_cells, tmp_path):
    path = eight_cells(name="boom", epochs=1, extra="""
        [[matrix.model]]
        plugin = "toy-exploding"

        [execution]
        backend = "process"
        workers = 2
        retries = 1
        """)
    done = run(path, tmp_path / "runs", tmp_path / "lb", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    boom = [x for x in done.stdout.splitlines() if "toy-exploding" in x]
    assert sum("attempt 2 of 2" in x for x in boom) == 4, done.stdout  # four seeds, one retry each
    assert sum("FAILED: RuntimeError: toy model exploded on purpose" in x for x in boom) == 8, done.stdout
    assert sum(bool(re.search(r": failed on \S+ in [\d.]+s ", x)) for x in boom) == 4, done.stdout  # each ends once
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "runs" / "boom" / ".claims").glob("*-*.json")}
    assert sorted(r["state"] for r in records.values()) == ["done"] * 8 + ["failed"] * 4
    assert "4 of 12 cells failed" in done.stdout


def _running_lease(root, min_epochs: int = 2, timeout: float = 300) -> dict:
    """Wait for a cell lease whose holder has finished ``min_epochs`` epochs; returns the lease."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for record in (root / ".claims").glob("*-*.json") if (root / ".claims").exists() else []:
            try:
                lease = json.loads(record.read_text())
                history = json.loads((root / record.stem / "history.json").read_text())
            except (OSError, ValueError):
                continue
            if lease["state"] == "running" and len(history) >= min_epochs:
                return {**lease, "cell": record.stem}
        time.sleep(0.05)
    raise AssertionError("no worker got into a cell")


def test_pool_replaces_a_killed_worker_and_its_cell_resumes(eight_cells, reference, tmp_path):
    path = eight_cells(extra="""
        [execution]
        backend = "process"
        workers = 2
        lease_seconds = 3
        poll_seconds = 0.5
        """)
    proc = subprocess.Popen(harness_cmd(path, tmp_path / "runs", tmp_path / "lb"), cwd=tmp_path, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lease = _running_lease(tmp_path / "runs" / "eight")
    assert lease["pid"] != proc.pid  # a pool worker, not the parent
    os.kill(lease["pid"], signal.SIGKILL)
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out
    assert re.search(r"process pool: worker w\d died \(exit code -9\); starting another", out), out
    assert f"{lease['cell']}: interrupted before, continuing from its last finished epoch" in out
    assert re.search(rf"{lease['cell']}: started on \S+ \(taking over from {re.escape(lease['worker'])}\)", out)
    starts = training_starts(out)
    assert len(starts) == 8 and set(starts.values()) == {1}  # the killed cell resumed, never restarted
    ref_runs, ref_board, _ = reference
    assert_same_results(ref_runs, ref_board, tmp_path / "runs" / "eight", tmp_path / "lb" / "eight")
