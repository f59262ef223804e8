"""Checking and planning a matrix imports neither torch, timm nor scikit-learn once timm's facts are on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from harness.config import load_experiment
from harness.plugins import build_plugins
from harness.runner import plan
plugins = build_plugins()
experiment = load_experiment(sys.argv[1], plugins)
the_plan = plan(experiment, plugins)
print(len(the_plan.cells), sorted(m for m in ("torch", "timm", "sklearn") if m in sys.modules))
"""


def _probe(cache: Path) -> tuple[int, list[str]]:
    env = {**os.environ, "HARNESS_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE, str(REPO / "experiments" / "smoke.toml")], env=env,
                         capture_output=True, text=True, check=True, timeout=300)
    count, modules = out.stdout.strip().split(" ", 1)
    return int(count), json.loads(modules.replace("'", '"'))


def test_second_check_of_an_experiment_imports_no_heavy_library(tmp_path):
    first_count, first = _probe(tmp_path)
    assert "timm" in first  # the first check asks timm, once
    facts = list(tmp_path.glob("timm-facts-*.json"))
    assert len(facts) == 1 and "resnet10t" in json.loads(facts[0].read_text())
    count, modules = _probe(tmp_path)
    assert count == first_count == 4
    assert modules == []
