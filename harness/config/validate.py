"""Experiment files: TOML in, a frozen :class:`Experiment` out, every problem reported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import fields as F
from harness.config.lines import LineIndex
from harness.config.metric_names import metric_problems
from harness.config.plugin_tables import (
    check_dataset,
    check_ensembles,
    check_metrics,
    check_plugin,
    check_train,
    check_tta,
)
from harness.config.problems import Problems
from harness.config.source import parse_toml, read_text
from harness.matrix import SECTIONS, CellSpec, expand, flatten

if TYPE_CHECKING:
    from harness.plugins import Plugins

TOP_LEVEL = ("experiment", "dataset", "train", "matrix", "tune", "ensemble", "tta", "execution", "tracker", "store",
             "metrics")


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
    dataset = check_dataset(problems, data.get("dataset", {}), plugins)
    train = check_train(problems, "train", data.get("train", {}), plugins, partial=False)
    blocks, include, exclude = _check_matrix(problems, data.get("matrix"), plugins)
    tune = _check_tune(problems, "tune", data["tune"]) if "tune" in data else None
    for block, source in blocks.get("model", []):
        if "tune" in block:
            _check_tune(problems, f"{source}.tune", block["tune"], partial=True)
    ensembles = check_ensembles(problems, data.get("ensemble", []), plugins)
    tta = check_tta(problems, data["tta"], plugins) if "tta" in data else None
    execution = F.check_section(problems, "execution", data["execution"], F.EXECUTION) \
        if "execution" in data else None
    from harness.config.tracking import check_store, check_trackers

    trackers = check_trackers(problems, data["tracker"], plugins) if "tracker" in data else []
    store = check_store(problems, data["store"]) if "store" in data else None
    metrics = check_metrics(problems, data["metrics"], plugins) if "metrics" in data else None
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
        check_train(problems, source, block, plugins, partial=True)
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
    check_plugin(problems, source, plugins.registry("models"), model["plugin"], {"plugin": model["plugin"], **options},
                  exclude=("plugin",), option_paths=paths)
    if cell.sources.get("dataset"):
        ds = cell.config["dataset"]
        check_plugin(problems, cell.sources["dataset"], plugins.registry("datasets"), ds.get("plugin"), ds,
                      exclude=("plugin",))
