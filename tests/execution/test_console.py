"""Lines of several processes on one pipe stay whole, unbuffered too (PYTHONUNBUFFERED=1, as in CI)."""

from __future__ import annotations

import os
import subprocess
import sys

WRITER = """
import sys
from harness.console import say as emit
for i in range(4000):
    emit(f"[{i}/4000] {sys.argv[1] * 40}: attempt 2 of 2")
"""


def test_two_unbuffered_processes_never_merge_lines():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    read, write = os.pipe()
    procs = [subprocess.Popen([sys.executable, "-u", "-c", WRITER, tag], stdout=write, env=env) for tag in "ab"]
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 8000
    whole = {f"[{i}/4000] {tag * 40}: attempt 2 of 2" for i in range(4000) for tag in "ab"}
    assert set(lines) == whole  # print() would write text and newline apart, and lines would run together


def test_warning_is_one_line_on_stderr(capsys):
    from harness.console import warn

    warn("plugin 'flaky' failed")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "harness: warning: plugin 'flaky' failed\n")
