"""The one factory that builds the plugin manager and the registries it fills."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import pluggy

from harness import hookspecs
from harness.console import warn
from harness.errors import PluginLoadError
from harness.registry import Entry, Registry

ENTRY_POINT_GROUP = "harness"
"""Every plugin, built-in or third-party, is an entry point of this group. The built-ins
are declared in harness's own ``pyproject.toml``; their source is ``"builtin"``."""
BUILTIN_DISTRIBUTION = "harness"
KINDS = ("models", "datasets", "losses", "optimizers", "schedulers", "metrics", "ensembles", "tta", "trackers")
SINGULAR = {
    "models": "model",
    "datasets": "dataset",
    "losses": "loss",
    "optimizers": "optimizer",
    "schedulers": "scheduler",
    "metrics": "metric",
    "ensembles": "ensemble",
    "tta": "tta",
    "trackers": "tracker",
}


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin came from, for ``harness plugins`` and cell hashes."""

    name: str
    distribution: str
    version: str
    source: str  # "builtin" (an entry point of harness itself), "entry point" or "in-process"


@dataclass
class Plugins:
    """A built plugin manager with its filled registries."""

    pm: pluggy.PluginManager
    registries: dict[str, Registry] = field(default_factory=dict)
    info: dict[str, PluginInfo] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # third-party plugins that did not import: why
    hook_failures: dict[str, dict[str, str]] = field(default_factory=dict)
    """Third-party plugins whose registration hooks raised: plugin -> hook -> ``"ExcType: message"``.
    Nothing such a hook registered is kept; the plugin's other hooks are."""

    def failure_hint(self) -> str:
        """For an unknown name: the plugins that failed to load and might have provided it."""
        if not self.failed:
            return ""
        return " (" + "; ".join(f"{m}; it may provide this name" for m in self.failed.values()) + ")"

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.pm.hook

    def registry(self, kind: str) -> Registry:
        return self.registries[kind]

    def versions(self) -> dict[str, str]:
        """Plugin name to version, of every plugin (recorded in each cell's ``config.json``)."""
        return {name: i.version for name, i in sorted(self.info.items())}

    def result_versions(self, selection_metrics: Iterable[str] = ()) -> dict[str, str]:
        """Versions of the plugins that can change what a cell trains: part of every cell key.

        Left out are plugins that register only what is applied afterwards from stored
        checkpoints and predictions (metrics, ensembles, TTA views and merges), only
        observe (trackers) or register nothing at all (lifecycle observers), so installing one
        retrains nothing; a metric plugin stays in when it produces a metric that selects
        checkpoints (``select_by``, ``tune.metric``: ``selection_metrics``).
        """
        afterwards = {"metrics", "ensembles", "tta", "trackers"}
        kinds: dict[str, set[str]] = {}
        for kind, registry in self.registries.items():
            for entry in registry:
                kinds.setdefault(entry.plugin, set()).add(kind)
        chosen = {m.split(".", 1)[1] for m in selection_metrics if "." in m}
        out = {}
        for name, info in sorted(self.info.items()):
            registered = kinds.get(name, set())
            if registered - afterwards or (name in kinds and "metrics" in registered
                                           and self._produces(name, chosen)):
                out[name] = info.version
        return out

    def _produces(self, plugin: str, metrics: set[str]) -> bool:
        """Whether a metric plugin's functions give any of ``metrics`` (probed, as validation does)."""
        if not metrics:
            return False
        from harness.config.metric_names import metric_names

        entries = [e for e in self.registries.get("metrics", ()) if e.plugin == plugin]
        names = metric_names(entries, None)
        if not names.complete:
            return True  # cannot tell: keep it in the key
        return any(m in names.fixed or any(m.startswith(p) for p in names.per_class) for m in metrics)


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get("HARNESS_DISABLE_PLUGINS", "").split(",") if n.strip()}


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """The group's entry points, harness's own (the built-ins) first."""
    found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if not any(ep.dist is not None and ep.dist.name == BUILTIN_DISTRIBUTION for ep in found):
        raise PluginLoadError(f"the built-in plugins are not declared: the installed metadata of {BUILTIN_DISTRIBUTION} "
                              f"has no [project.entry-points.{ENTRY_POINT_GROUP}]; reinstall it (pip install -e .)")
    return sorted(found, key=lambda ep: (ep.dist is None or ep.dist.name != BUILTIN_DISTRIBUTION))


def build_plugins(extra: tuple[object, ...] = ()) -> Plugins:
    """Build the plugin manager: hookspecs, blocked names, entry points, check.

    Built-ins are entry points of harness's own distribution and load first;
    ``HARNESS_DISABLE_PLUGIN_AUTOLOAD=1`` skips every other distribution's.

    Args:
        extra: plugin objects or modules to register after the entry points (tests).

    A third-party plugin that fails to import is left out with a warning naming
    ``HARNESS_DISABLE_PLUGINS=<name>`` (see :attr:`Plugins.failed`); one whose
    ``harness_register_*`` hook raises (a duplicate name included) loses everything that
    hook registered, with the same kind of warning (see :attr:`Plugins.hook_failures`). An
    experiment that uses a name either would have provided fails validation with that reason.

    Raises:
        PluginLoadError: a built-in or in-process plugin failed to import, raised in a
            registration hook or registered a duplicate name, or a plugin implements a
            hook that does not exist.
    """
    pm = pluggy.PluginManager("harness")
    pm.add_hookspecs(hookspecs)
    info: dict[str, PluginInfo] = {}
    failed: dict[str, str] = {}
    for name in _disabled():
        pm.set_blocked(name)
    autoload = os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD") != "1"
    for ep in _entry_points():
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        builtin = dist == BUILTIN_DISTRIBUTION
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name) or not (builtin or autoload):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - one clear error naming the plugin
            message = f"plugin {ep.name!r} from distribution {dist} {version} failed to load: {exc!r}"
            if builtin:
                raise PluginLoadError(message) from exc
            failed[ep.name] = message  # a broken third-party package must not block every command
            _warn(f"{message}; the other plugins work. Set HARNESS_DISABLE_PLUGINS={ep.name} to skip it")
            continue
        pm.register(plugin, name=ep.name)
        info[ep.name] = PluginInfo(ep.name, dist, version, "builtin" if builtin else "entry point")
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
    plugins = Plugins(pm, info=info, failed=failed)
    _fill_registries(plugins)
    return plugins


def _warn(message: str) -> None:
    """One line on stderr, once per message and process (plugins are built by every command)."""
    if message not in _WARNED:
        _WARNED.add(message)
        warn(message)


_WARNED: set[str] = set()


@dataclass
class _FilledRegistry(Registry):
    """The registry the host fills: it can undo one plugin's hook, and names failed plugins.

    An unknown name's message ends with the third-party plugins whose hook for this kind
    raised, since the name may be one of theirs.
    """

    failures: list[str] = field(default_factory=list)

    def unknown_message(self, name: str) -> str:
        return super().unknown_message(name) + "".join(f" ({f}; it may provide this name)" for f in self.failures)

    def snapshot(self) -> tuple[dict[str, Entry], str | None]:
        return dict(self._entries), self._default

    def restore(self, state: tuple[dict[str, Entry], str | None]) -> None:
        self._entries, self._default = dict(state[0]), state[1]


def _one_line(exc: BaseException) -> str:
    """``ExcType: message`` on one line (``ExcType`` alone when the message is empty)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fill_registries(plugins: Plugins) -> None:
    pm = plugins.pm

    def builtin_first(impl: pluggy.HookImpl) -> bool:  # a third-party name never shadows a built-in
        info = plugins.info.get(pm.get_name(impl.plugin) or "")
        return info is None or info.source != "builtin"

    for kind in KINDS:
        hook = f"harness_register_{kind}"
        registry = _FilledRegistry(SINGULAR[kind])
        impls = reversed(getattr(pm.hook, hook).get_hookimpls())  # registration order, not call order
        for impl in sorted(impls, key=builtin_first):
            registry.current_plugin = pm.get_name(impl.plugin) or "?"
            state = registry.snapshot()
            try:
                impl.function(registry=registry)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin's fault, named below
                _hook_failed(plugins, registry, hook, exc)
                registry.restore(state)  # nothing half-registered
        registry.current_plugin = "<unknown>"
        plugins.registries[kind] = registry


def _hook_failed(plugins: Plugins, registry: _FilledRegistry, hook: str, exc: BaseException) -> None:
    """Raise for a built-in or in-process plugin; warn and record for a third-party one."""
    name = registry.current_plugin
    info = plugins.info.get(name)
    if info is None or info.source != "entry point":  # ours, or the caller's own: a bug to see
        if isinstance(exc, PluginLoadError):
            raise exc
        where = f" ({info.distribution} {info.version})" if info else ""
        raise PluginLoadError(f"plugin {name!r}{where} failed in {hook}: {exc!r}") from exc
    error = _one_line(exc)
    plugins.hook_failures.setdefault(name, {})[hook] = error
    message = f"plugin {name!r} from distribution {info.distribution} {info.version} failed in {hook}: {error}"
    registry.failures.append(message)
    _warn(f"{message}; nothing it registered there is kept, the other plugins work. "
          f"Set HARNESS_DISABLE_PLUGINS={name} to skip it")
