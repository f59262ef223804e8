from __future__ import annotations

import pytest

from harness.errors import PluginLoadError, UnknownNameError
from harness.registry import Registry


def make() -> Registry:
    reg: Registry = Registry("model")
    reg.current_plugin = "first"
    reg.register("convnext", object, description="a")
    reg.register("efficientnet", dict)
    return reg


def test_duplicate_names_both_plugins():
    reg = make()
    reg.current_plugin = "second"
    with pytest.raises(PluginLoadError) as info:
        reg.register("convnext", list)
    message = str(info.value)
    assert "'first'" in message and "'second'" in message and "'convnext'" in message


def test_unknown_name_suggests_and_lists():
    reg = make()
    with pytest.raises(UnknownNameError) as info:
        reg.get("convnxt")
    message = str(info.value)
    assert message == "unknown model 'convnxt'. Did you mean 'convnext'? Available: convnext, efficientnet"


def test_unknown_name_without_close_match_lists_all():
    assert make().unknown_message("zzz") == "unknown model 'zzz'. Available: convnext, efficientnet"


def test_lookup_origin_and_order():
    reg = make()
    assert reg.get("efficientnet") is dict
    assert reg.origin("convnext") == "first"
    assert reg.names() == ["convnext", "efficientnet"]
    assert [e.name for e in reg] == ["convnext", "efficientnet"]
    assert "convnext" in reg and "resnet" not in reg and len(reg) == 2


def test_empty_name_rejected():
    with pytest.raises(PluginLoadError, match="empty name"):
        make().register("", object)
