from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

from harness import hookimpl, hookspecs
from harness.errors import PluginLoadError
from harness.plugins import build_plugins

BUILTINS = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "plugins").iterdir()
                  if p.name.startswith("harness_"))


def test_builtins_and_third_party_are_listed(plugins):
    assert len(BUILTINS) >= 8
    for name in BUILTINS:  # every folder under plugins/ is declared as an entry point of harness itself
        assert (plugins.info[name].distribution, plugins.info[name].source) == ("harness", "builtin")
    toy = plugins.info["toy"]
    assert (toy.distribution, toy.version, toy.source) == ("harness-toy-plugin", "0.3.1", "entry point")
    assert plugins.registry("models").origin("toy-cnn") == "toy"
    assert plugins.registry("models").origin("timm") == "harness_timm"
    assert plugins.registry("datasets").origin("synthetic-defects") == "harness_datasets"
    assert {"ce", "focal", "weighted_ce"} <= set(plugins.registry("losses").names())
    assert {"adam", "adamw", "sgd"} <= set(plugins.registry("optimizers").names())
    assert {"cosine", "step"} <= set(plugins.registry("schedulers").names())


def test_disable_plugins_env(monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "toy,harness_timm")
    built = build_plugins()
    assert "toy" not in built.info and "harness_timm" not in built.info
    assert "timm" not in built.registry("models") and "toy-cnn" not in built.registry("models")


def test_disable_autoload(monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    built = build_plugins()
    assert "toy" not in built.info
    assert "timm" in built.registry("models")


def test_misspelt_hook_fails_loudly():
    class Misspelt:
        @hookimpl
        def harness_register_modles(self, registry):  # noqa: D401 - deliberately wrong
            pass

    with pytest.raises(PluginLoadError, match="harness_register_modles"):
        build_plugins(extra=(Misspelt(),))


def test_duplicate_from_another_plugin_names_both():
    class Clash:
        @hookimpl
        def harness_register_models(self, registry):
            registry.register("timm", object)

    with pytest.raises(PluginLoadError) as info:
        build_plugins(extra=(Clash(),))
    assert "'harness_timm'" in str(info.value) and "Clash" in str(info.value)


def test_broken_entry_point_is_one_clear_warning(tmp_path, monkeypatch):
    dist = tmp_path / "harness_broken-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-broken\nVersion: 2.0\n")
    (dist / "entry_points.txt").write_text("[harness]\nbroken = harness_broken_mod\n")
    (tmp_path / "harness_broken_mod.py").write_text("raise ImportError('needs a library that is missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = build_plugins()  # a third-party failure is a warning; the other plugins load
    message = plugins.failed["broken"]
    assert "'broken'" in message and "harness-broken 2.0" in message and "needs a library that is missing" in message
    assert "broken" not in plugins.info and "timm" in plugins.registry("models")
    sys.modules.pop("harness_broken_mod", None)


def test_every_hookspec_is_documented(plugins):
    """Prefix, docstring, and an Args entry for every argument (keeps hook docs honest)."""
    names = [n for n in dir(hookspecs) if n.startswith("harness_")]
    assert len(names) >= 13
    for name in names:
        assert hasattr(plugins.hook, name)
        fn = getattr(hookspecs, name)
        doc = inspect.getdoc(fn) or ""
        assert doc.split("\n")[0].endswith("."), name
        assert "Returns:" in doc, name
        for arg in inspect.signature(fn).parameters:
            assert re.search(rf"^\s+{arg}: \S", doc, re.M), f"{name}: argument {arg} undocumented"
