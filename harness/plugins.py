"""The one factory that builds the plugin manager and the registries it fills."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from dataclasses import dataclass, field
from types import ModuleType

import pluggy

from harness import hookspecs
from harness.errors import PluginLoadError
from harness.registry import Registry

DEFAULT_PLUGINS: tuple[str, ...] = (
    "harness_timm",
    "harness_datasets",
    "harness_train",
    "harness_metrics",
    "harness_cats",
    "harness_gain",
    "harness_ensembles",
    "harness_tta",
)
"""Built-in plugin modules, registered exactly like third-party ones."""

ENTRY_POINT_GROUP = "harness"
KINDS = ("models", "datasets", "losses", "optimizers", "schedulers", "metrics", "ensembles", "tta")
SINGULAR = {
    "models": "model",
    "datasets": "dataset",
    "losses": "loss",
    "optimizers": "optimizer",
    "schedulers": "scheduler",
    "metrics": "metric",
    "ensembles": "ensemble",
    "tta": "tta",
}


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin came from, for ``harness plugins`` and cell hashes."""

    name: str
    distribution: str
    version: str
    source: str  # "builtin" or "entry point"


@dataclass
class Plugins:
    """A built plugin manager with its filled registries."""

    pm: pluggy.PluginManager
    registries: dict[str, Registry] = field(default_factory=dict)
    info: dict[str, PluginInfo] = field(default_factory=dict)

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.pm.hook

    def registry(self, kind: str) -> Registry:
        return self.registries[kind]

    def versions(self) -> dict[str, str]:
        """Plugin name to version: part of every cell's hash."""
        return {name: i.version for name, i in sorted(self.info.items())}


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get("HARNESS_DISABLE_PLUGINS", "").split(",") if n.strip()}


def _import_builtin(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - reported with the plugin's name
        from harness import __version__

        raise PluginLoadError(f"built-in plugin {name!r} (harness {__version__}) failed to load: {exc!r}") from exc


def build_plugins(extra: tuple[object, ...] = ()) -> Plugins:
    """Build the plugin manager: hookspecs, defaults, blocked names, entry points, check.

    Args:
        extra: plugin objects or modules to register after the entry points (tests).

    Raises:
        PluginLoadError: a plugin failed to import, registered a duplicate name, or
            implements a hook that does not exist.
    """
    from harness import __version__

    pm = pluggy.PluginManager("harness")
    pm.add_hookspecs(hookspecs)
    info: dict[str, PluginInfo] = {}
    disabled = _disabled()
    for name in DEFAULT_PLUGINS:
        if name in disabled:
            continue
        pm.register(_import_builtin(name), name=name)
        info[name] = PluginInfo(name, "harness", __version__, "builtin")
    for name in disabled:
        pm.set_blocked(name)
    if os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD") != "1":
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - one clear error naming the plugin
                raise PluginLoadError(
                    f"plugin {ep.name!r} from distribution {dist} {version} failed to load: {exc!r}"
                ) from exc
            pm.register(plugin, name=ep.name)
            info[ep.name] = PluginInfo(ep.name, dist, version, "entry point")
    for plugin in extra:
        if pm.is_registered(plugin):  # already a built-in or an entry point
            continue
        name = pm.register(plugin, name=getattr(plugin, "__name__", type(plugin).__name__))
        if name and name not in info:
            info[name] = PluginInfo(name, "(in-process)", "0", "in-process")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc
    plugins = Plugins(pm, info=info)
    _fill_registries(plugins)
    return plugins


def _fill_registries(plugins: Plugins) -> None:
    pm = plugins.pm
    for kind in KINDS:
        registry: Registry = Registry(SINGULAR[kind])
        hook = getattr(pm.hook, f"harness_register_{kind}")
        for impl in reversed(hook.get_hookimpls()):  # registration order, not call order
            registry.current_plugin = pm.get_name(impl.plugin) or "?"
            try:
                impl.function(registry=registry)
            except PluginLoadError:
                raise
            except Exception as exc:  # noqa: BLE001
                info = plugins.info.get(registry.current_plugin)
                where = f" ({info.distribution} {info.version})" if info else ""
                raise PluginLoadError(
                    f"plugin {registry.current_plugin!r}{where} failed in harness_register_{kind}: {exc!r}"
                ) from exc
        registry.current_plugin = "<unknown>"
        plugins.registries[kind] = registry
