"""``harness evaluate``: trained rows scored on another dataset, with a leaderboard.

Each chosen cell (a row's seeds; ensembles and TTA rows run their members) predicts
every split of the other dataset, decoded by its plugin at the row's ``image_size`` and
``resize`` unless the dataset says otherwise. The results are a run of their own,
``<runs>/<experiment>@<dataset>/<cell id>/`` (config, ``predictions_{train,val,test}.csv``,
metrics, status), published as ``<leaderboards>/<experiment>@<dataset>/`` with the same
metrics, intervals and page as any run, plus per row and split
``predictions/<row>_<split>.csv`` (``true_class``, ``pred_class``, ``confidence``, the
probabilities) and ``wrong/<row>_<split>.csv`` for train, val and test, most confident first.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ConfigError, HarnessError
from harness.predictions import PredictionSet
from harness.store import CellRecord, Run, atomic_write_json, atomic_write_text, load_run, write_predictions

SPLITS = ("train", "val", "test")
Echo = Callable[[str], None]


def dataset_from_file(path: Path) -> tuple[dict[str, Any], str]:
    """The ``[dataset]`` table of a TOML file and a name for it (``[experiment] name`` or the file stem)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    if not isinstance(data.get("dataset"), dict):
        raise ConfigError([f"{path}: dataset: missing; --data needs a file with a [dataset] table"])
    name = data.get("experiment", {}).get("name") or Path(path).stem
    return dict(data["dataset"]), str(name)


def dataset_from_text(text: str) -> tuple[dict[str, Any], str]:
    """An inline TOML table (``'{ plugin = "folder", root = "data/x" }'``) and a name for it."""
    try:
        table = tomllib.loads(f"dataset = {text}")["dataset"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"--dataset: not a TOML inline table ({exc}): {text}"]) from None
    if not isinstance(table, dict):
        raise ConfigError([f"--dataset: must be an inline table like {{ plugin = \"folder\", root = \"...\" }}: {text}"])
    root = Path(str(table.get("root", ""))).name
    return table, "-".join(p for p in (str(table.get("plugin", "dataset")), root) if p)


def check_dataset(table: dict[str, Any], plugins: Any, where: str) -> None:
    """The plugin's own option checks, as ``harness validate`` runs them."""
    registry = plugins.registry("datasets")
    name = table.get("plugin", registry.default)
    if name not in registry:
        raise ConfigError([f"{where}: dataset.plugin: {registry.unknown_message(str(name))}"])
    entry = registry.entry(name)
    options = {k: v for k, v in table.items() if k != "plugin"}
    problems = entry.check(options) if entry.check else []
    if problems:
        raise ConfigError([f"{where}: dataset{'.' + key if key else ''}: {message}" for key, message in problems])


def chosen_cells(source: Path, row: str | None) -> tuple[Run, list[CellRecord]]:
    """The run and the finished cells to evaluate: every row's, or one row's seeds."""
    from harness.predict.source import resolve_source

    if row is None and (source / "config.json").is_file():
        record, root = resolve_source(source)
        return load_run(root), [record]
    if (source / "results.json").is_file():
        _, root = resolve_source(source, row)
        source = Path(root)
    run = load_run(source)
    done = [c for c in run.done() if "fold" not in c.config]  # k-fold members are not rows
    if row is not None:
        done = [c for c in done if row in (c.row, c.id)]
        if not done:
            resolve_source(source, row)  # raises the precise reason
    if not done:
        raise HarnessError(f"{source}: no finished cells to evaluate")
    return run, done


def _label_map(row_classes: tuple[str, ...], data_classes: tuple[str, ...], row: str) -> np.ndarray:
    missing = [c for c in data_classes if c not in row_classes]
    if missing:
        raise HarnessError(f"row {row!r} knows classes {list(row_classes)}; the dataset has {missing} besides")
    return np.asarray([row_classes.index(c) for c in data_classes], dtype=np.int64)


def _predict_split(node: Any, datasets: dict[Any, Any], split: str, batch_size: int) -> np.ndarray:
    import torch

    keys = sorted(node.keys)
    first = datasets[keys[0]].split(split)
    parts = []
    for start in range(0, len(first), batch_size):
        batches = {}
        for key in keys:
            images = np.asarray(datasets[key].split(split).images[start:start + batch_size])
            batches[key] = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()
        parts.append(node.proba(batches))
    return np.concatenate(parts)


def evaluate(source: Path, table: dict[str, Any], name: str, plugins: Any, *, runs_dir: Path, leaderboards_dir: Path,
             row: str | None = None, rank_by: str | None = None, batch_size: int = 64,
             echo: Echo = print) -> tuple[Any, Path]:
    """Score the chosen rows of ``source`` on the dataset ``table`` and publish a leaderboard.

    Returns:
        The leaderboard and its folder.
    """
    import torch

    from harness.derived_folders import metric_fns, split_metrics
    from harness.leaderboard import build_leaderboard
    from harness.predict.nodes import build_node
    from harness.runner import build_dataset

    run, cells = chosen_cells(Path(source), row)
    experiment = run.meta.get("experiment") or run.path.name
    title = f"{experiment}@{name}"
    out_run = Path(runs_dir) / title
    fns = metric_fns(plugins.registries)
    datasets: dict[Any, Any] = {}
    evaluated = []
    for cell in cells:
        folder = out_run / cell.id
        config = {k: v for k, v in cell.config.items() if k not in ("kind", "members", "source")}
        config.update({"evaluated_from": str(cell.path.resolve()), "source_kind": cell.config.get("kind", "model"),
                       "evaluation_dataset": table})
        try:
            node = build_node(cell, run.path, plugins.registries, torch.device("cpu"))
            for key in node.keys:
                if key not in datasets:
                    options = {"image_size": key[0], **table}
                    if key[1] != "bilinear" and "resize" not in table:  # bilinear: every file plugin's default
                        options["resize"] = key[1]
                    datasets[key] = build_dataset(options, plugins)
            data = datasets[sorted(node.keys)[0]]
            mapping = _label_map(tuple(node.classes), tuple(data.classes), cell.row)
            predictions, metrics = {}, {}
            for split in SPLITS:
                part = data.split(split)
                proba = _predict_split(node, datasets, split, batch_size)
                pred = PredictionSet(tuple(node.classes), tuple(part.sample_ids), mapping[np.asarray(part.labels)], proba)
                predictions[split] = pred
                metrics.update(split_metrics(pred, fns, split))
            metrics.update({k: cell.metrics[k] for k in ("params", "gmacs") if k in cell.metrics})
        except HarnessError as exc:
            echo(f"{cell.id}: FAILED: {exc}")
            _record(folder, config, None, {}, reason=str(exc))
            continue
        config["classes"] = list(node.classes)
        _record(folder, config, predictions, metrics)
        evaluated.append(cell.id)
        echo(f"{cell.row} ({cell.id}): test.accuracy {metrics.get('test.accuracy', float('nan')):.4f}")
    if not evaluated:
        raise HarnessError(f"no row could be evaluated on {name}; the reasons are above")
    board_dir = Path(leaderboards_dir) / title
    result = load_run(out_run)
    chosen = {c.id for c in cells}
    result.cells = {k: v for k, v in result.cells.items() if k in chosen}  # not an earlier evaluation's other rows
    ranked = rank_by or _rank_by(run)
    board = build_leaderboard(result, board_dir, rank_by=ranked, title=title,
                              description=f"Rows of {experiment} ({run.path}) evaluated on {name}.",
                              jinja_hook=lambda env: plugins.hook.harness_prepare_jinja2_environment(env=env))
    write_tables(board, result, board_dir)
    return board, board_dir


def _rank_by(run: Run) -> str:
    for cell in run.done():
        if "test.f1_macro" in cell.metrics:
            return "test.f1_macro"
    return "test.accuracy"


def _record(folder: Path, config: dict[str, Any], predictions: dict[str, PredictionSet] | None,
            metrics: dict[str, Any], reason: str = "") -> None:
    from harness.store import STATUS, reset_cell_dir

    reset_cell_dir(folder)
    folder.mkdir(parents=True)
    atomic_write_json(folder / "config.json", config)
    if predictions is None:
        atomic_write_json(folder / STATUS, {"status": "failed", "reason": reason})
        return
    for split, pred in predictions.items():
        write_predictions(folder, split, pred)
    atomic_write_json(folder / "metrics.json", metrics)
    atomic_write_json(folder / STATUS, {"status": "done"})


def write_tables(board: Any, run: Run, out_dir: Path) -> None:
    """Per row and split: every prediction with true and predicted class, and the wrong ones."""
    from harness.leaderboard.figures.wrong import row_slug, wrong_table
    from harness.leaderboard.ranking.samples import PredictionStore

    store = PredictionStore(run)
    written: set[Path] = set()
    for row, detail in board.details.items():
        cells = [run.cells[c] for c in detail.cells if c in run.cells]
        if not cells:
            continue
        for split in SPLITS:
            frames = []
            for cell in cells:
                frame = run.predictions(cell.id, split)
                classes = np.asarray(cell.classes, dtype=object)
                proba = frame[[f"prob_{c}" for c in cell.classes]].to_numpy()
                predicted = proba.argmax(axis=1)
                frame.insert(1, "seed", str(cell.config.get("seed", cell.id)))
                frame.insert(2, "true_class", classes[frame["label"].to_numpy()])
                frame.insert(3, "pred_class", classes[predicted])
                frame.insert(4, "confidence", proba[np.arange(len(frame)), predicted])
                frames.append(frame.drop(columns=["label"]))
            import pandas as pd

            table = pd.concat(frames, ignore_index=True)
            path = out_dir / "predictions" / f"{row_slug(row)}_{split}.csv"
            atomic_write_text(path, table.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
            written.add(path)
            wrong = wrong_table(store, cells, split)
            if wrong is not None:
                atomic_write_text(out_dir / "wrong" / f"{row_slug(row)}_{split}.csv",
                                  wrong.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    for stale in sorted((out_dir / "predictions").glob("*.csv")):  # rows of an earlier evaluation
        if stale not in written:
            stale.unlink()
