"""A third-party plugin that fails to import: a warning naming the way out, the rest works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _broken_distribution(root: Path) -> Path:
    """A real installed-looking distribution whose entry point raises on import."""
    root.mkdir(parents=True)
    (root / "harness_broken_plugin.py").write_text("import no_such_module_anywhere  # noqa\n")
    info = root / "harness_broken-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-broken\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[harness]\nbroken = harness_broken_plugin\n")
    return root


def _harness(*args: str, path: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1"}
    env.pop("HARNESS_DISABLE_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_a_broken_third_party_plugin_warns_and_the_others_work(tmp_path):
    site = _broken_distribution(tmp_path / "site")
    listed = _harness("plugins", path=site, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert ("harness: warning: plugin 'broken' from distribution harness-broken 1.2.3 failed to load: "
            "ModuleNotFoundError(\"No module named 'no_such_module_anywhere'\"); the other plugins work. "
            "Set HARNESS_DISABLE_PLUGINS=broken to skip it") in listed.stderr
    assert "harness_timm" in listed.stdout and "toy-cnn" in listed.stdout
    assert "Traceback" not in listed.stderr

    env_skip = {**os.environ, "HARNESS_DISABLE_PLUGINS": "broken",
                "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    quiet = subprocess.run([sys.executable, "-m", "harness.cli", "plugins"], capture_output=True, text=True,
                           env=env_skip, cwd=tmp_path, timeout=300)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr


def test_an_experiment_using_a_name_it_would_provide_fails_with_the_reason(tmp_path):
    site = _broken_distribution(tmp_path / "site")
    exp = tmp_path / "uses.toml"
    exp.write_text('[experiment]\nname = "u"\n[[matrix.model]]\nplugin = "broken-net"\n')
    out = _harness("validate", str(exp), path=site, cwd=tmp_path)
    assert out.returncode == 2
    line = next(line for line in out.stderr.splitlines() if line.startswith(f"{exp}:4: "))
    assert line.startswith(f"{exp}:4: matrix.model[0].plugin: unknown model 'broken-net'.")
    assert "plugin 'broken' from distribution harness-broken 1.2.3 failed to load" in line
    assert "it may provide this name" in line and "Traceback" not in out.stderr
