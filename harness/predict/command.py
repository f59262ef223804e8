"""``harness predict``, ``harness evaluate`` and ``harness export``: arguments, files and exit status."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.console import say
from harness.errors import HarnessError

SOURCE_HELP = ("a run folder (runs/<experiment>), a cell or derived-row folder, a leaderboard folder, "
               "or a checkpoint.safetensors beside its config.json")


def _source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help=SOURCE_HELP)
    parser.add_argument("--row", default=None, help="row label (\"timm arch=resnet18\", \"ensemble stack\") or cell id")
    parser.add_argument("--seed", default=None, help="which seed of a multi-seed row (default: the lowest)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")


def add_use_parsers(subparsers: Any) -> None:
    """Add ``predict``, ``evaluate`` and ``export`` to the ``harness`` command line."""
    p = subparsers.add_parser("predict", help="run a trained row on image files, folders or CSV lists; nothing "
                              "is written but --out (and --maps)",
                              description="Predict with a stored row. Exit 1 when any input failed (each failed "
                              "input is an ERROR row naming the reason; the rest are predicted).")
    _source_args(p)
    p.add_argument("inputs", nargs="*", type=Path, help="image files, folders (recursive) or CSV files with a path column")
    p.add_argument("--split", choices=("train", "val", "test"), default=None,
                   help="predict this split of the row's own dataset (also embedded data) instead of files; "
                   "adds a true_class column")
    p.add_argument("--out", type=Path, default=None, help="output file (default: standard output)")
    p.add_argument("--format", choices=("csv", "jsonl"), default=None,
                   help="csv or jsonl (default: from --out's suffix, else csv)")
    p.add_argument("--path-column", default=None, help="path column of CSV inputs (default: path, image, file, ...)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--tta", default=None, help="comma-separated TTA views to merge (default: the row as stored)")
    p.add_argument("--tta-merge", default="mean", help="merge of --tta views (default mean)")
    p.add_argument("--maps", type=Path, default=None, help="write map overlays (models with maps) into this folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    e = subparsers.add_parser("evaluate", help="score trained rows on another dataset; writes "
                              "leaderboards/<experiment>@<dataset>/")
    _source_args(e)
    group = e.add_mutually_exclusive_group(required=True)
    group.add_argument("--data", type=Path, help="a TOML file whose [dataset] table names the data")
    group.add_argument("--dataset", help="an inline TOML table: '{ plugin = \"folder\", root = \"data/other\" }'")
    e.add_argument("--name", default=None, help="dataset name in the output folders (default: from --data/--dataset)")
    e.add_argument("--rank-by", default=None, help="ranking metric (default test.f1_macro)")
    e.add_argument("--runs-dir", type=Path, default=Path("runs"))
    e.add_argument("--leaderboards-dir", type=Path, default=Path("leaderboards"))
    e.add_argument("--batch-size", type=int, default=64)

    x = subparsers.add_parser("export", help="a single-model row as ONNX or TorchScript, with a preprocessing "
                              "sidecar JSON")
    _source_args(x)
    x.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    x.add_argument("--out", type=Path, required=True, help="model file (model.onnx, model.pt); the sidecar is "
                   "the same name plus .json")


def _predictor(args: argparse.Namespace) -> Any:
    from harness.predict import Predictor

    return Predictor.from_run(args.source, args.row, seed=args.seed, device=args.device)


def cmd_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from harness.predict.inputs import expand_inputs
    from harness.predict.output import render
    from harness.store import atomic_write_text

    fmt = args.format or ("jsonl" if args.out is not None and args.out.suffix.lower() in (".jsonl", ".json") else "csv")
    if bool(args.inputs) == bool(args.split):
        raise HarnessError("give image inputs or --split, not both" if args.inputs else "give image inputs or --split")
    predictor = _predictor(args)
    truth = None
    if args.split:
        files, truth = _split_items(predictor, args.split)
    else:
        files = expand_inputs(args.inputs, args.path_column)
        if not files:
            raise HarnessError(f"no images found in {', '.join(map(str, args.inputs))}")
    tta = {"views": args.tta.split(","), "merge": args.tta_merge} if args.tta else None
    show = not args.no_progress and sys.stderr.isatty()
    with tqdm(total=len(files), desc="predict", unit="img", file=sys.stderr, disable=not show, leave=False) as bar:
        predictions = predictor.predict(files, batch_size=args.batch_size, tta=tta, return_maps=args.maps is not None,
                                        progress=bar.update)
    text = render(predictions, predictor.classes, fmt, truth)
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(args.out, text)
    if args.maps is not None:
        _overlays(predictor, files, predictions, args.maps)
    failed = sum(not p.ok for p in predictions)
    where = f" -> {args.out}" if args.out is not None else ""
    print(f"{len(predictions) - failed} of {len(predictions)} images predicted{where}", file=sys.stderr)
    if failed:
        print(f"harness: {failed} image(s) failed (ERROR rows name the reason)", file=sys.stderr)
        return 1
    return 0


def _split_items(predictor: Any, split: str) -> tuple[list[Any], list[str]]:
    """The images of a split of the row's dataset (decoded by its plugin, through the cache) and their classes."""
    from harness.plugins import build_plugins
    from harness.predict.inputs import Item
    from harness.runner import build_dataset

    config = predictor.node.models()[0].record.config
    if "dataset" not in config:
        raise HarnessError(f"{predictor.record.id}: config.json names no dataset; give image inputs instead")
    data = build_dataset(config["dataset"], build_plugins()).split(split)
    classes = list(predictor.classes)
    items = [Item(str(sid), image=np.asarray(image)) for sid, image in zip(data.sample_ids, data.images)]
    return items, [classes[int(k)] for k in data.labels]


def _overlays(predictor: Any, files: list[Any], predictions: list[Any], folder: Path) -> None:
    from harness.predict.inputs import Item, decode_item
    from harness.predict.output import write_overlays

    model = predictor.node.models()[0]
    images = {i: decode_item(f if isinstance(f, Item) else Item(str(f), f), model.image_size, model.resize)
              for i, (f, p) in enumerate(zip(files, predictions)) if p.ok and p.maps}
    n = write_overlays(predictions, images, folder)
    print(f"{n} map overlay(s) -> {folder}" if n else "the row's model makes no maps; no overlays written",
          file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from harness.leaderboard import terminal_table
    from harness.plugins import build_plugins
    from harness.predict.evaluate import check_dataset, dataset_from_file, dataset_from_text, evaluate

    plugins = build_plugins()
    if args.data is not None:
        table, name = dataset_from_file(args.data)
        where = str(args.data)
    else:
        table, name = dataset_from_text(args.dataset)
        where = "--dataset"
    check_dataset(table, plugins, where)
    board, folder = evaluate(args.source, table, args.name or name, plugins, runs_dir=args.runs_dir,
                             leaderboards_dir=args.leaderboards_dir, row=args.row, rank_by=args.rank_by,
                             batch_size=args.batch_size, echo=say)
    print()
    print(terminal_table(board))
    print(f"\nleaderboard: {folder / 'index.html'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from harness.predict.export import export_row

    predictor = _predictor(args)
    out, side = export_row(predictor, args.out, args.format)
    print(f"{predictor.row} ({predictor.record.id}) -> {out} (+ {side.name})")
    return 0


COMMANDS = {"predict": cmd_predict, "evaluate": cmd_evaluate, "export": cmd_export}
