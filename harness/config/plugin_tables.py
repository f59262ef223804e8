"""The tables of an experiment file that name plugins: [dataset], [train] components,
[[ensemble]], [tta] and [metrics.<family>], each checked by the plugin it names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.config import fields as F
from harness.config.problems import Problems

if TYPE_CHECKING:
    from harness.plugins import Plugins

COMPONENTS = {"optimizer": "optimizers", "scheduler": "schedulers", "loss": "losses"}


def check_ensembles(problems: Problems, data: Any, plugins: Plugins) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(b, dict) for b in data):
        problems.add("ensemble", "must be an array of tables ([[ensemble]])")
        return []
    out, names = [], set()
    for i, block in enumerate(data):
        path = f"ensemble[{i}]"
        entry = {"members": "*", "across_seeds": False, **block}
        members = entry["members"]
        if not (isinstance(members, str) or (isinstance(members, list) and members
                                             and all(isinstance(m, str) for m in members))):
            problems.add(f"{path}.members", f'must be "*", a glob over row names, or a list of them, got {members!r}')
        if not isinstance(entry["across_seeds"], bool):
            problems.add(f"{path}.across_seeds", "must be true or false")
        name = entry.setdefault("name", entry.get("plugin", ""))
        if name in names:
            problems.add(f"{path}.name", f"ensemble name {name!r} is used twice; give each block a distinct name")
        names.add(name)
        if "plugin" not in block:
            problems.add(f"{path}.plugin", "is required: an ensemble method, one of "
                         + ", ".join(plugins.registry("ensembles").names()))
            continue
        options = {k: v for k, v in entry.items() if k not in F.ENSEMBLE_FIXED}
        check_plugin(problems, path, plugins.registry("ensembles"), entry["plugin"], {"plugin": entry["plugin"], **options},
                      exclude=("plugin",))
        if entry["plugin"] in plugins.registry("ensembles"):
            from harness.ensembles.types import ensemble_class
            from harness.errors import HarnessError

            try:
                ensemble_class(plugins.registry("ensembles").get(entry["plugin"]), entry["plugin"])
            except HarnessError as exc:
                problems.add(f"{path}.plugin", str(exc))
        out.append(entry)
    return out


def check_tta(problems: Problems, data: Any, plugins: Plugins) -> dict[str, Any]:
    tta = F.check_section(problems, "tta", data, F.TTA)
    from harness.tta import check_tta

    registry = plugins.registry("tta")
    unknown = False
    for key in ("views", "merge"):
        names = tta.get(key, [])
        for name in [names] if isinstance(names, str) else names:
            if name not in registry:
                unknown = True
                problems.add(f"tta.{key}", registry.unknown_message(name))
    if not unknown:
        for key, message in check_tta(tta, registry):
            problems.add(f"tta.{key}" if key else "tta", message)
    return tta


def check_dataset(problems: Problems, data: Any, plugins: Plugins) -> dict[str, Any]:
    if not isinstance(data, dict):
        problems.add("dataset", f"must be a table, got {data!r}")
        return {}
    out = dict(data)
    registry = plugins.registry("datasets")
    if "plugin" not in out and registry.default is None:
        problems.add("dataset", "names no plugin, and no installed dataset plugin is the default: set `plugin`")
        return out
    plugin = out.setdefault("plugin", registry.default)
    image_size = out.setdefault("image_size", 64)
    if not F._type_ok("int", image_size) or image_size < 8:
        problems.add("dataset.image_size", f"must be an integer >= 8, got {image_size!r}")
    check_plugin(problems, "dataset", registry, plugin, out, exclude=("plugin",))
    return out


def check_train(problems: Problems, path: str, data: Any, plugins: Plugins, *, partial: bool) -> dict[str, Any]:
    train = F.check_section(problems, path, data, F.TRAIN, partial=partial)
    for key, kind in COMPONENTS.items():
        if key not in train:
            continue
        values = train[key] if isinstance(train[key], list) else [train[key]]
        normal = [component(v) for v in values]
        for value in normal:
            context = value
            if key == "scheduler":
                if "epochs" in value:
                    problems.add(f"{path}.scheduler.epochs", "is taken from train.epochs; remove it here")
                    continue
                if isinstance(train.get("epochs"), int):  # lets run-length checks (warm-up, T_0) run now
                    context = {**value, "epochs": train["epochs"]}
            check_plugin(problems, f"{path}.{key}", plugins.registry(kind), value["name"], context, exclude=("name",))
        train[key] = normal if isinstance(train[key], list) else normal[0]
    if isinstance(train.get("early_stopping"), dict):
        train["early_stopping"] = F.check_section(problems, f"{path}.early_stopping", train["early_stopping"], F.EARLY_STOPPING)
    if isinstance(train.get("augment"), dict):
        F.check_section(problems, f"{path}.augment", train["augment"], F.AUGMENT, partial=True)
    return train


def component(value: str | dict[str, Any]) -> dict[str, Any]:
    return {"name": value} if isinstance(value, str) else dict(value)


def check_metrics(problems: Problems, data: Any, plugins: Plugins) -> dict[str, dict[str, Any]]:
    """``[metrics.<family>]`` tables: options of registered metric families, checked by each family."""
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        problems.add("metrics", "must hold one table per metric family, e.g. [metrics.anomaly] fpr_limit = 0.1")
        return {}
    registry = plugins.registry("metrics")
    for family, options in data.items():
        if family not in registry:
            problems.add(f"metrics.{family}", registry.unknown_message(family) + problems.unknown_hint)
        elif registry.entry(family).check is None:
            if options:
                problems.add(f"metrics.{family}", f"the metric family {family!r} takes no options")
        else:
            check_plugin(problems, f"metrics.{family}", registry, family, options, exclude=())
    return {family: dict(options) for family, options in data.items()}


def check_plugin(problems: Problems, path: str, registry: Any, name: Any, options: dict[str, Any],
                  exclude: tuple[str, ...], option_paths: dict[str, str] | None = None) -> None:
    key = "name" if "name" in exclude else "plugin"
    if not isinstance(name, str):
        problems.add(f"{path}.{key}", f"must be a string naming a {registry.kind}, got {name!r}")
        return
    if name not in registry:
        problems.add(f"{path}.{key}", registry.unknown_message(name) + problems.unknown_hint)
        return
    check = registry.entry(name).check
    if check is None:
        return
    opts = {k: v for k, v in options.items() if k not in exclude}
    try:
        found = check(opts)
    except Exception as exc:  # noqa: BLE001 - a broken check is reported, not fatal
        found = [("", f"the {registry.kind} plugin's option check failed: {exc!r}")]
    for option, message in found:
        where = (option_paths or {}).get(option) or (f"{path}.{option}" if option else path)
        problems.add(where, message)
