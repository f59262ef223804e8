"""`harness compare` on real runs of one experiment: other seeds tie, a broken run regresses."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

EXPERIMENT = """
[experiment]
name = "cmp"
seeds = {seeds}

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 160
n_val = 32
n_test = 128

[train]
epochs = 6
batch_size = 32
optimizer = {{ name = "adam", lr = {lr} }}

[[matrix.model]]
plugin = "toy-cnn"
width = 16
"""


def run(tmp_path, name: str, seeds: str, lr: float):
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "cmp.toml"
    path.write_text(EXPERIMENT.format(seeds=seeds, lr=lr))
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(path), "--runs-dir", str(folder / "runs"),
                           "--leaderboards-dir", str(folder / "lb"), "--no-progress"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder / "lb" / "cmp"


def compare(a, b, *extra):
    return subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(a), str(b), *extra],
                          capture_output=True, text=True, timeout=600)


def test_compare_other_seeds_then_a_broken_run(tmp_path):
    base = run(tmp_path, "a", "[0]", 1e-2)
    other = run(tmp_path, "b", "[1]", 1e-2)
    broken = run(tmp_path, "broken", "[0]", 1e-9)  # learns nothing: a regression to catch

    same = compare(base, other, "--fail-on-regression", "test.f1_macro", "--markdown", str(tmp_path / "d.md"))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "toy-cnn" in same.stdout
    assert "toy-cnn" in (tmp_path / "d.md").read_text()

    worse = compare(base, broken, "--fail-on-regression", "test.f1_macro", "--html", str(tmp_path / "d.html"))
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "test.f1_macro" in worse.stderr and "toy-cnn" in worse.stderr
    html = (tmp_path / "d.html").read_text()
    assert "toy-cnn" in html and "http://" not in html.replace("http://www.w3.org", "")
