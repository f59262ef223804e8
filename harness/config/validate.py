"""Experiment files: TOML in, a frozen :class:`Experiment` out, every problem reported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import fields as F
from harness.config.lines import LineIndex
from harness.config.metric_names import metric_problems
from harness.config.problems import Problems
from harness.config.source import parse_toml, read_text
from harness.matrix import SECTIONS, CellSpec, expand, flatten

if TYPE_CHECKING:
    from harness.plugins import Plugins

TOP_LEVEL = ("experiment", "dataset", "train", "matrix", "tune", "ensemble", "tta", "execution", "tracker", "store",
             "metrics")
COMPONENTS = {"optimizer": "optimizers", "scheduler": "schedulers", "loss": "losses"}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file.

    Attributes:
        path: the file.
        name, description, seeds, rank_by, select_by: from ``[experiment]``.
        decisions: the leaderboard's decision keys of ``[experiment]`` that were given
            (``select_winner_by``, ``slice_by``, ``costs``, ``effects``, ...).
        dataset: ``[dataset]`` with defaults (``plugin``, ``image_size``, options).
        train: ``[train]`` with defaults; components normalised to ``{"name": ...}`` tables.
        cells: the expanded matrix.
        warnings: ``file:line: key.path: message`` lines that do not stop a run.
    """

    path: Path
    name: str
    description: str
    seeds: tuple[int, ...]
    rank_by: str
    select_by: str
    dataset: dict[str, Any]
    train: dict[str, Any]
    cells: tuple[CellSpec, ...]
    ensembles: tuple[dict[str, Any], ...] = ()
    tta: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    execution: dict[str, Any] | None = None  # [execution] as written; None: run in this process
    decisions: dict[str, Any] | None = None  # the leaderboard's decision keys of [experiment] (fields.DECISION_KEYS)
    trackers: tuple[dict[str, Any], ...] = ()  # [[tracker]] blocks (harness.config.tracking); no part of a cell key
    store: dict[str, Any] | None = None  # [store]: the mirror of finished cells (harness.store_remote)
    metrics: dict[str, dict[str, Any]] | None = None  # [metrics.<family>] options, applied to stored predictions


def load_experiment(path: str | Path, plugins: Plugins, *, strict: bool = False) -> Experiment:
    """Read, check and expand an experiment file.

    Args:
        strict: warnings (an exclude or include entry that matches no cell) are errors.

    Raises:
        ConfigError: listing every problem as ``file:line: key.path: message``.
        HarnessError: the file cannot be read.
    """
    path = Path(path)
    text = read_text(path)
    problems = Problems(path, LineIndex(text), unknown_hint=plugins.failure_hint())
    data = parse_toml(path, text)
    experiment = _check(data, problems, plugins)
    if strict:
        for line, key, message in problems.warnings:
            problems.items.append((line, key, f"{message} (an error with --strict)"))
    problems.raise_if_any()
    assert experiment is not None  # no problems means every part was built
    return Experiment(path=path, warnings=tuple(problems.warning_lines()), **experiment)


def _check(data: dict[str, Any], problems: Problems, plugins: Plugins) -> dict[str, Any] | None:
    for key in data:
        if key not in TOP_LEVEL:
            problems.unknown_key("", key, list(TOP_LEVEL))
    meta = F.check_section(problems, "experiment", data.get("experiment", {}), F.EXPERIMENT)
    if "experiment" not in data:
        problems.add("experiment", "an [experiment] table with at least `name` is required")
    dataset = _check_dataset(problems, data.get("dataset", {}), plugins)
    train = _check_train(problems, "train", data.get("train", {}), plugins, partial=False)
    blocks, include, exclude = _check_matrix(problems, data.get("matrix"), plugins)
    tune = _check_tune(problems, "tune", data["tune"]) if "tune" in data else None
    for block, source in blocks.get("model", []):
        if "tune" in block:
            _check_tune(problems, f"{source}.tune", block["tune"], partial=True)
    ensembles = _check_ensembles(problems, data.get("ensemble", []), plugins)
    tta = _check_tta(problems, data["tta"], plugins) if "tta" in data else None
    execution = F.check_section(problems, "execution", data["execution"], F.EXECUTION) \
        if "execution" in data else None
    from harness.config.tracking import check_store, check_trackers

    trackers = check_trackers(problems, data["tracker"], plugins) if "tracker" in data else []
    store = check_store(problems, data["store"]) if "store" in data else None
    metrics = _check_metrics(problems, data["metrics"], plugins) if "metrics" in data else None
    for key, message in metric_problems(meta.get("rank_by"), meta.get("select_by"), dataset, plugins.registry("metrics")):
        problems.add(f"experiment.{key}", message)
    if isinstance(meta.get("costs"), dict):
        meta["costs"] = F.check_section(problems, "experiment.costs", meta["costs"], F.COSTS)
    if isinstance(meta.get("select_winner_by"), str):
        for _, message in metric_problems(None, meta["select_winner_by"], dataset, plugins.registry("metrics")):
            problems.add("experiment.select_winner_by", message)
    if tune and isinstance(tune.get("metric"), str):
        for _, message in metric_problems(None, tune["metric"], dataset, plugins.registry("metrics")):
            problems.add("tune.metric", message)
    if "model" not in blocks:
        return None
    seeds = list(dict.fromkeys(meta.get("seeds", [0])))
    unmatched: list[tuple[str, int]] = []
    cells = expand({"dataset": dataset, "train": train}, blocks, seeds, include, exclude, unmatched)
    broken_axes = _has_empty_axis(blocks)
    for cell in cells:
        _attach_tune(cell, tune, meta.get("select_by", "val.f1_macro"))
        cell.config["select_by"] = meta.get("select_by", "val.f1_macro")  # it picks the stored weights: in the key
        if not broken_axes:  # an empty axis already reported: what follows from it would only mislead
            _check_cell(problems, cell, plugins)
    if not broken_axes:
        _report_unmatched(problems, unmatched, include, exclude, cells)
    if not cells and not broken_axes:
        problems.add("matrix", "the matrix has no cells left (every cell excluded?)")
    if problems.items:
        return None
    return {
        "name": meta["name"] if "name" in meta else "",
        "description": meta["description"],
        "seeds": tuple(seeds),
        "rank_by": meta["rank_by"],
        "select_by": meta["select_by"],
        "decisions": {k: meta[k] for k in F.DECISION_KEYS if k in meta},
        "dataset": dataset,
        "train": train,
        "cells": tuple(cells),
        "ensembles": tuple(ensembles),
        "tta": tta,
        "execution": execution,
        "trackers": tuple(trackers),
        "store": store,
        "metrics": metrics,
    }


def _check_tune(problems: Problems, path: str, data: Any, *, partial: bool = False) -> dict[str, Any]:
    from harness.tune.space import flatten_space, parse_param

    tune = F.check_section(problems, path, data, F.TUNE, partial=partial)
    if isinstance(tune.get("pruner"), dict):
        F.check_section(problems, f"{path}.pruner", tune["pruner"], F.PRUNER_OPTIONS, partial=True)
    for key, spec in flatten_space(tune.get("space") or {}).items():
        param, found = parse_param(key, spec)
        for option, message in found:
            problems.add(f"{path}.space.{key}" + (f".{option}" if option else ""), message)
        if param and tune.get("sampler") == "grid" and param.choices is None and param.step is None:
            problems.add(f"{path}.space.{key}", 'the grid sampler needs choices, or low/high with a step')
    if not partial and not (tune.get("space") or {}):
        problems.add(f"{path}.space", "is required: what to tune, e.g. space.lr = { low = 1e-4, high = 1e-2, log = true }")
    return tune


def _attach_tune(cell: CellSpec, tune: dict[str, Any] | None, select_by: str) -> None:
    """Move a model block's ``tune`` override next to the experiment's ``[tune]``."""
    override = cell.config["model"].pop("tune", None)
    if tune is None and override is None:
        return
    merged = {**(tune or {"n_trials": 10, "sampler": "tpe", "pruner": "median", "refit": False}), **(override or {})}
    merged.setdefault("metric", select_by)
    if merged.get("metric") is None:
        merged["metric"] = select_by
    cell.config["tune"] = merged


def _check_ensembles(problems: Problems, data: Any, plugins: Plugins) -> list[dict[str, Any]]:
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
        _check_plugin(problems, path, plugins.registry("ensembles"), entry["plugin"], {"plugin": entry["plugin"], **options},
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


def _check_tta(problems: Problems, data: Any, plugins: Plugins) -> dict[str, Any]:
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


def _check_dataset(problems: Problems, data: Any, plugins: Plugins) -> dict[str, Any]:
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
    _check_plugin(problems, "dataset", registry, plugin, out, exclude=("plugin",))
    return out


def _check_train(problems: Problems, path: str, data: Any, plugins: Plugins, *, partial: bool) -> dict[str, Any]:
    train = F.check_section(problems, path, data, F.TRAIN, partial=partial)
    for key, kind in COMPONENTS.items():
        if key not in train:
            continue
        values = train[key] if isinstance(train[key], list) else [train[key]]
        normal = [_component(v) for v in values]
        for value in normal:
            context = value
            if key == "scheduler":
                if "epochs" in value:
                    problems.add(f"{path}.scheduler.epochs", "is taken from train.epochs; remove it here")
                    continue
                if isinstance(train.get("epochs"), int):  # lets run-length checks (warm-up, T_0) run now
                    context = {**value, "epochs": train["epochs"]}
            _check_plugin(problems, f"{path}.{key}", plugins.registry(kind), value["name"], context, exclude=("name",))
        train[key] = normal if isinstance(train[key], list) else normal[0]
    if isinstance(train.get("early_stopping"), dict):
        train["early_stopping"] = F.check_section(problems, f"{path}.early_stopping", train["early_stopping"], F.EARLY_STOPPING)
    if isinstance(train.get("augment"), dict):
        F.check_section(problems, f"{path}.augment", train["augment"], F.AUGMENT, partial=True)
    return train


def _component(value: str | dict[str, Any]) -> dict[str, Any]:
    return {"name": value} if isinstance(value, str) else dict(value)


def _check_metrics(problems: Problems, data: Any, plugins: Plugins) -> dict[str, dict[str, Any]]:
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
            _check_plugin(problems, f"metrics.{family}", registry, family, options, exclude=())
    return {family: dict(options) for family, options in data.items()}


def _check_plugin(problems: Problems, path: str, registry: Any, name: Any, options: dict[str, Any],
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


def _check_matrix(problems: Problems, matrix: Any, plugins: Plugins):
    if matrix is None:
        problems.add("matrix", "a [[matrix.model]] block is required (which models to train)")
        return {}, [], []
    if not isinstance(matrix, dict):
        problems.add("matrix", "must be a table")
        return {}, [], []
    blocks: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for key, value in matrix.items():
        if key not in (*SECTIONS, "include", "exclude"):
            problems.unknown_key("matrix", key, [*SECTIONS, "include", "exclude"])
            continue
        if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
            problems.add(f"matrix.{key}", f"must be an array of tables ([[matrix.{key}]])")
            continue
        if key in SECTIONS:
            blocks[key] = [(b, f"matrix.{key}[{i}]") for i, b in enumerate(value)]
    if not blocks.get("model"):
        problems.add("matrix", "a [[matrix.model]] block is required (which models to train)")
    for block, source in blocks.get("model", []):
        if "plugin" not in block:
            problems.add(f"{source}.plugin", "is required: the model plugin, e.g. \"timm\"")
        for key, value in block.items():
            if isinstance(value, list) and not value:
                problems.add(f"{source}.{key}", "an empty list is an axis with no values")
    for block, source in blocks.get("train", []):
        _check_train(problems, source, block, plugins, partial=True)
    return blocks, list(matrix.get("include", [])), list(matrix.get("exclude", []))


def _has_empty_axis(blocks: dict[str, list[tuple[dict[str, Any], str]]]) -> bool:
    return any(isinstance(v, list) and not v for section in blocks.values() for block, _ in section for v in block.values())


def _report_unmatched(problems: Problems, unmatched: list[tuple[str, int]], include: list[Any], exclude: list[Any],
                      cells: list[CellSpec]) -> None:
    """Exclude entries that remove nothing warn; so do include entries that add a cell
    although they name values of existing axes (a typo, most likely)."""
    for kind, i in unmatched:
        entry = (exclude if kind == "exclude" else include)[i]
        path = f"matrix.{kind}[{i}]"
        flat = flatten(entry) if isinstance(entry, dict) else {}
        hints = _value_hints(flat, cells)
        if kind == "exclude":
            problems.warn(path, f"matches no cell, so it removes nothing{hints}")
        elif "model.plugin" not in flat:
            problems.add(path, f"matches no cell{hints}, and a new cell it would add needs model.plugin")
        elif hints:
            problems.warn(path, f"matches no cell, so it adds new cells{hints}")


def _value_hints(flat: dict[str, Any], cells: list[CellSpec]) -> str:
    """``(model.arch 'resnet_bogus' is not one of 'a', 'b')`` for keys the cells take other values of."""
    import difflib

    parts = []
    for key, value in flat.items():
        if key == "model.plugin":
            continue
        planned = [c for c in cells if not c.sources.get("model", "").startswith("matrix.include")]
        taken = sorted({repr(c.axes.get(key, flatten(c.config).get(key))) for c in planned
                        if key in c.axes or key in flatten(c.config)})
        if not taken or repr(value) in taken:
            continue
        close = difflib.get_close_matches(repr(value), taken, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        parts.append(f"{key} {value!r} is not one of {', '.join(taken[:8])}{hint}")
    return f" ({'; '.join(parts)})" if parts else ""


def _check_cell(problems: Problems, cell: CellSpec, plugins: Plugins) -> None:
    model = cell.config["model"]
    source = cell.sources.get("model", "matrix.model")
    if "plugin" not in model:
        return  # reported once, at the include entry
    options = {k: v for k, v in model.items() if k not in ("plugin", "name")}
    # an option an include entry added is reported at that entry's line
    paths = {k: f"{cell.sources[f'model.{k}']}.model.{k}" for k in options if f"model.{k}" in cell.sources}
    _check_plugin(problems, source, plugins.registry("models"), model["plugin"], {"plugin": model["plugin"], **options},
                  exclude=("plugin",), option_paths=paths)
    if cell.sources.get("dataset"):
        ds = cell.config["dataset"]
        _check_plugin(problems, cell.sources["dataset"], plugins.registry("datasets"), ds.get("plugin"), ds,
                      exclude=("plugin",))
