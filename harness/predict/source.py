"""Finding the stored row a :class:`~harness.predict.Predictor` runs.

A source is a run folder plus a row label (or a cell id), one cell or derived folder
(it holds ``config.json``), a leaderboard folder (its ``results.json`` names the run),
or a ``checkpoint.safetensors`` with its ``config.json``. A row trained with several
seeds resolves to one of its cells: the lowest seed unless ``seed`` says which.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.store import CellRecord, Run, read_cell, read_json

CHECKPOINT = "checkpoint.safetensors"


def _seed_key(cell: CellRecord) -> tuple[int, str]:
    seed = cell.config.get("seed")
    return (seed, "") if isinstance(seed, int) else (1 << 30, str(seed))


def _pick(matches: list[CellRecord], row: str, seed: int | str | None) -> CellRecord:
    if seed is not None:
        chosen = [c for c in matches if str(c.config.get("seed")) == str(seed)]
        if not chosen:
            seeds = ", ".join(str(c.config.get("seed")) for c in matches)
            raise HarnessError(f"row {row!r} has no finished cell with seed {seed}; seeds: {seeds}")
        matches = chosen
    return sorted(matches, key=_seed_key)[0]


def _rows_cells(run: Run) -> list[CellRecord]:
    """Finished cells that are rows: k-fold member cells carry their parent's row label but are not rows."""
    return [c for c in run.done() if "fold" not in c.config]


def _rows(run: Run) -> list[str]:
    return list(dict.fromkeys(c.row for c in _rows_cells(run)))


def find_cell(run: Run, row: str | None, seed: int | str | None = None) -> CellRecord:
    """The finished cell of ``run`` that ``row`` (a row label or a cell id) names.

    Raises:
        HarnessError: no such row, the row's cells failed, or no row was given and the
            run holds more than one.
    """
    if row is None:
        rows = _rows(run)
        if len(rows) != 1:
            raise HarnessError(f"{run.path} holds {len(rows)} rows; name one with --row (rows: {', '.join(rows)})")
        row = rows[0]
    if row in run.cells:
        cell = run.cells[row]
        if cell.status != "done":
            raise HarnessError(f"cell {row} is {cell.status}{': ' + cell.reason if cell.reason else ''}")
        return cell
    matches = [c for c in _rows_cells(run) if c.row == row]
    if not matches:
        failed = [c for c in run.cells.values() if c.row == row]
        if failed:
            raise HarnessError(f"row {row!r} has no finished cell: {failed[0].id} is {failed[0].status}"
                               + (f": {failed[0].reason}" if failed[0].reason else ""))
        from harness.options import did_you_mean

        rows = _rows(run)
        raise HarnessError(f"{run.path}: no row {row!r}.{did_you_mean(row, rows)} Rows: {', '.join(rows)}")
    return _pick(matches, row, seed)


def _leaderboard_run(folder: Path, row: str | None) -> tuple[Run, str | None]:
    results = read_json(folder / "results.json")
    run_dir = results.get("run_dir")
    if not run_dir or not Path(run_dir).is_dir():
        raise HarnessError(f"{folder}/results.json names run folder {run_dir!r}, which is not there")
    if row is None:  # the top-ranked row that has cells (chance rows have none)
        row = next((str(r["row"]) for r in results.get("rows", []) if r.get("cells")), None)
    return Run(run_dir), row


def _followed(record: CellRecord, run_root: Path) -> tuple[CellRecord, Path]:
    """A cell of ``harness evaluate`` stands for the trained row it was evaluated from."""
    origin = record.config.get("evaluated_from")
    if origin and Path(origin).is_dir():
        return read_cell(Path(origin)), Path(origin).parent
    return record, run_root


def resolve_source(source: str | Path, row: str | None = None, seed: int | str | None = None,
                   config: str | Path | dict[str, Any] | None = None) -> tuple[CellRecord, Path]:
    """The cell record to predict with and the run folder its members live in.

    Args:
        source: a run folder, cell folder, leaderboard folder or checkpoint file.
        row: row label or cell id inside a run or leaderboard (a leaderboard's top row
            when omitted).
        seed: which seed of a multi-seed row.
        config: with a checkpoint file: its ``config.json`` (path or dict); by default
            the one beside it.

    Raises:
        HarnessError: the source is not any of these, or names nothing finished.
    """
    path = Path(source)
    if path.is_file():
        if path.suffix != ".safetensors":
            raise HarnessError(f"{path}: not a run, cell or leaderboard folder, nor a .safetensors checkpoint")
        if isinstance(config, dict):
            cfg = config
        else:
            cfg_path = Path(config) if config is not None else path.with_name("config.json")
            if not cfg_path.is_file():
                raise HarnessError(f"{path}: a checkpoint needs its config.json (none at {cfg_path})")
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        record = CellRecord(id=str(cfg.get("id", path.parent.name)), path=path.parent, status="done", config=cfg)
        return record, path.parent.parent
    if not path.is_dir():
        raise HarnessError(f"{path}: no such file or folder")
    if (path / "config.json").is_file():
        record = read_cell(path)
        # a copied model folder may lack status.json; its checkpoint is what counts
        if record.status == "failed" or (record.status != "done" and not (path / CHECKPOINT).is_file()):
            raise HarnessError(f"{path} is {record.status}{': ' + record.reason if record.reason else ''}")
        return _followed(record, path.parent)
    if (path / "results.json").is_file():
        run, row = _leaderboard_run(path, row)
        return _followed(find_cell(run, row, seed), run.path)
    run = Run(path)
    return _followed(find_cell(run, row, seed), run.path)
