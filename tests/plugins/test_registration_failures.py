"""A third-party plugin whose registration hook raises: one warning, none of that hook's entries, the rest works."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import hookimpl
from harness.cli import main
from harness.errors import PluginLoadError
from harness.plugins import build_plugins

FLAKY = '''
from harness import hookimpl


@hookimpl
def harness_register_models(registry):
    registry.register("{name}-net", object, description="kept only if the hook finishes", default=True)
    registry.register("timm-large", object)
    raise RuntimeError("weights index missing:\\n  run the setup script first")


@hookimpl
def harness_register_datasets(registry):
    registry.register("{name}-data", object)


@hookimpl
def harness_register_trackers(registry):
    raise SystemExit(3)
'''

CLASH = '''
from harness import hookimpl


@hookimpl
def harness_register_models(registry):
    registry.register("{name}-net", object)
    registry.register("timm", object)
'''

_COUNT = itertools.count()


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a real distribution (dist-info with an entry point of the harness group) on sys.path.

    Each gets a fresh name, so that the once-per-process warning is printed for every test.
    """
    modules = []

    def make(source: str, stem: str = "flaky") -> tuple[str, Path]:
        name = f"{stem}{next(_COUNT)}"
        module = f"harness_{name}_plugin"
        site = tmp_path / f"site-{name}"
        site.mkdir()
        (site / f"{module}.py").write_text(source.format(name=name))
        info = site / f"harness_{name}-1.4.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: harness-{name}\nVersion: 1.4.0\n")
        (info / "entry_points.txt").write_text(f"[harness]\n{name} = {module}\n")
        monkeypatch.syspath_prepend(str(site))
        modules.append(module)
        return name, site

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def _warning(name: str, hook: str, error: str) -> str:
    return (f"harness: warning: plugin {name!r} from distribution harness-{name} 1.4.0 failed in {hook}: {error}; "
            f"nothing it registered there is kept, the other plugins work. Set HARNESS_DISABLE_PLUGINS={name} to skip it")


def test_a_raising_hook_keeps_none_of_its_entries_and_its_other_hooks_stay(install, plugins, capsys):
    name, _ = install(FLAKY)
    built = build_plugins()
    models = built.registry("models")
    assert f"{name}-net" not in models and "timm-large" not in models  # both registered, then the hook raised
    assert models.default is None  # its default=True is undone too
    assert models.names() == plugins.registry("models").names()  # every other model is still there
    assert built.registry("datasets").origin(f"{name}-data") == name  # the hook that worked stays
    assert built.registry("datasets").default == "synthetic-defects"
    assert set(built.registry("trackers").names()) == set(plugins.registry("trackers").names())
    assert built.hook_failures == {name: {
        "harness_register_models": "RuntimeError: weights index missing: run the setup script first",
        "harness_register_trackers": "SystemExit: 3",
    }}
    assert built.info[name].distribution == f"harness-{name}" and built.info[name].version == "1.4.0"
    err = capsys.readouterr().err.splitlines()
    assert err == [
        _warning(name, "harness_register_models", "RuntimeError: weights index missing: run the setup script first"),
        _warning(name, "harness_register_trackers", "SystemExit: 3"),
    ]


def test_a_duplicate_name_from_a_third_party_plugin_is_that_plugins_failure(install, capsys):
    name, _ = install(CLASH, stem="clash")
    built = build_plugins()
    models = built.registry("models")
    assert models.origin("timm") == "harness_timm" and f"{name}-net" not in models
    error = f"PluginLoadError: model 'timm' is registered twice: by plugin 'harness_timm' and by plugin {name!r}"
    assert built.hook_failures == {name: {"harness_register_models": error}}
    assert capsys.readouterr().err.splitlines() == [_warning(name, "harness_register_models", error)]


def test_harness_plugins_lists_the_failure_and_works(install, tmp_path):
    name, site = install(FLAKY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1"}
    env.pop("HARNESS_DISABLE_PLUGINS", None)
    out = subprocess.run([sys.executable, "-m", "harness.cli", "plugins"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    error = "RuntimeError: weights index missing: run the setup script first"
    assert out.stderr.splitlines() == [_warning(name, "harness_register_models", error),
                                       _warning(name, "harness_register_trackers", "SystemExit: 3")]
    lines = out.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(f"{name} "))
    assert lines[row].split()[:5] == [name, f"harness-{name}", "1.4.0", "entry", "point"]
    assert lines[row].endswith(f"datasets: {name}-data")
    assert lines[row + 1].strip() == f"failed: harness_register_models: {error}"
    assert lines[row + 2].strip() == "failed: harness_register_trackers: SystemExit: 3"
    assert any(line.startswith("harness_timm ") for line in lines) and "toy-cnn" in out.stdout


def test_an_experiment_naming_a_lost_entry_says_which_plugin_failed(install, tmp_path, capsys):
    name, _ = install(FLAKY)
    lost = tmp_path / "lost.toml"
    lost.write_text('[experiment]\nname = "lost"\n[[matrix.model]]\nplugin = "timm-large"\n')
    fine = tmp_path / "fine.toml"
    fine.write_text('[experiment]\nname = "fine"\n[[matrix.model]]\nplugin = "toy-cnn"\n')
    assert main(["validate", str(fine)]) == 0  # the broken plugin blocks nothing else
    assert capsys.readouterr().out.strip() == f"{fine}: ok (1 cells)"
    assert main(["validate", str(lost)]) == 2
    err = capsys.readouterr().err.splitlines()
    line = next(line for line in err if line.startswith(f"{lost}:"))
    assert line.startswith(f"{lost}:4: matrix.model[0].plugin: unknown model 'timm-large'. Did you mean 'timm'? "
                           "Available: ")
    assert line.endswith(f" (plugin {name!r} from distribution harness-{name} 1.4.0 failed in harness_register_models: "
                         "RuntimeError: weights index missing: run the setup script first; it may provide this name)")
    assert "harness_register_trackers" not in line  # only the hook of the kind that is missing
    assert err[-1] == "harness: 1 problem(s) found"


def test_a_builtin_hook_that_raises_is_still_a_loud_error(monkeypatch):
    import harness_train

    @hookimpl
    def harness_register_losses(registry):
        registry.register("half-done", object)
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(harness_train, "harness_register_losses", harness_register_losses)
    with pytest.raises(PluginLoadError, match=r"^plugin 'harness_train' \(harness \S+\) failed in "
                                              r"harness_register_losses: RuntimeError\('a bug of ours'\)$"):
        build_plugins()


def test_an_in_process_plugin_that_raises_is_a_loud_error():
    class Mine:
        @hookimpl
        def harness_register_metrics(self, registry):
            raise ValueError("mine")

    with pytest.raises(PluginLoadError, match=r"'Mine' \(\(in-process\) 0\) failed in harness_register_metrics"):
        build_plugins(extra=(Mine(),))
