"""Experiment trackers: the public :class:`Tracker` type and the hub that drives them.

A tracker plugin registers a factory ``factory(**options) -> Tracker`` through
``harness_register_trackers``; ``[[tracker]]`` blocks of the experiment name them. The
hub listens to the cell lifecycle hooks the runner already calls (in every worker
process) and forwards them to each tracker. A tracker that raises (its server is down)
gets one warning per run and is left out for the rest of that run: it never fails a cell
and never touches the run store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from harness import console

if TYPE_CHECKING:
    from harness.config import Experiment
    from harness.matrix import Cell
    from harness.plugins import Plugins

HUB = "harness-tracking"
"""Name under which the hub is registered into the plugin manager during a run."""
SKIPPED_FILES = ("resume.pt",)
_hookimpl = pluggy.HookimplMarker("harness")


@dataclass(frozen=True)
class TrackedCell:
    """What a tracker learns about a cell (or a derived ensemble / TTA row).

    Attributes:
        id: the cell's folder name, unique in the experiment.
        row: the leaderboard row it belongs to.
        config: the resolved configuration, as in the cell's ``config.json``.
        folder: the cell's folder in the run store.
        kind: ``"cell"``, or ``"ensemble"`` / ``"tta"`` for derived rows.
    """

    id: str
    row: str
    config: dict[str, Any]
    folder: Path
    kind: str = "cell"

    def params(self) -> dict[str, str]:
        """The configuration flattened to ``a.b.c`` keys with string values (tracker params)."""
        out: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
            else:
                out[prefix] = value if isinstance(value, str) else json.dumps(value, default=str)

        walk("", self.config)
        return out

    def files(self) -> list[Path]:
        """The folder's finished files (training state and unfinished writes left out), sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir()
                      if p.is_file() and p.name not in SKIPPED_FILES and not p.name.startswith("."))


class Tracker:
    """Base class of tracker plugins; every method is optional (a no-op here).

    The hub calls, in order: :meth:`start_experiment` once per process and run, then per
    cell :meth:`start_cell`, :meth:`log_epoch` after every epoch, and :meth:`finish_cell`
    or :meth:`fail_cell`; after the leaderboard's derived rows are built,
    :meth:`log_row` for each ensemble and TTA row; :meth:`end_experiment` last. A method
    may raise: the hub warns once and stops calling that tracker for the rest of the run.
    """

    def start_experiment(self, experiment: str, root: Path) -> None:
        """The run of ``experiment`` (its run-store folder ``root``) begins."""

    def start_cell(self, cell: TrackedCell) -> None:
        """A cell starts training (its ``config.json`` is written)."""

    def log_epoch(self, cell: TrackedCell, epoch: int, logs: dict[str, Any]) -> None:
        """One epoch finished: ``logs`` holds ``train.loss``, ``val.*``, ``lr``, ``seconds``."""

    def finish_cell(self, cell: TrackedCell, metrics: dict[str, float], files: list[Path]) -> None:
        """The cell is done and stored: its final metrics and the files of its folder."""

    def fail_cell(self, cell: TrackedCell, error: str) -> None:
        """The cell failed with ``error``; the matrix goes on."""

    def log_row(self, cell: TrackedCell, metrics: dict[str, float], files: list[Path]) -> None:
        """A derived row (ensemble or TTA) with its metrics and files."""

    def end_experiment(self) -> None:
        """The run is over (cells and derived rows)."""


def tracked(cell: Cell, root: Path) -> TrackedCell:
    """The tracker's view of a matrix cell whose folder is ``root / cell.id``."""
    folder = Path(root) / cell.id
    config = _read_json(folder / "config.json") or {**cell.config, "id": cell.id, "row": cell.row}
    return TrackedCell(cell.id, cell.row, config, folder)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and v == v}


@dataclass
class Hub:
    """Forwards the lifecycle hooks to the experiment's trackers, each guarded."""

    trackers: list[tuple[str, Tracker]]
    root: Path
    warn: Callable[[str], None]
    broken: set[str] = field(default_factory=set)

    def call(self, method: str, *args: Any) -> None:
        for name, tracker in self.trackers:
            if name in self.broken:
                continue
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a tracker never fails a cell
                self.broken.add(name)
                self.warn(f"tracker {name!r} failed in {method}: {type(exc).__name__}: {exc}; the results are kept "
                          f"in {self.root}, and the tracker is left out for the rest of this run")

    @_hookimpl
    def harness_cell_start(self, cell: Cell) -> None:
        self.call("start_cell", tracked(cell, self.root))

    @_hookimpl
    def harness_epoch_end(self, cell: Cell, epoch: int, logs: dict[str, Any]) -> None:
        self.call("log_epoch", tracked(cell, self.root), epoch, dict(logs))

    @_hookimpl
    def harness_cell_finish(self, cell: Cell, metrics: dict[str, float]) -> None:
        view = tracked(cell, self.root)
        self.call("finish_cell", view, _numbers(metrics), view.files())

    @_hookimpl
    def harness_cell_error(self, cell: Cell, error: BaseException) -> None:
        self.call("fail_cell", tracked(cell, self.root), f"{type(error).__name__}: {error}")


def build_trackers(experiment: Experiment, plugins: Plugins,
                   warn: Callable[[str], None] = console.warn) -> list[tuple[str, Tracker]]:
    """One tracker per ``[[tracker]]`` block, built from the ``trackers`` registry.

    A factory that raises or returns something else is warned about and left out: a
    tracker never stops a run.
    """
    out = []
    for block in getattr(experiment, "trackers", ()) or ():
        name = block["plugin"]
        options = {k: v for k, v in block.items() if k != "plugin"}
        try:
            tracker = plugins.registry("trackers").get(name)(**options)
        except Exception as exc:  # noqa: BLE001
            warn(f"tracker {name!r} could not be built ({type(exc).__name__}: {exc}); running without it")
            continue
        if not isinstance(tracker, Tracker):
            warn(f"tracker plugin {name!r} returned {type(tracker).__name__}, not a harness.Tracker; running without it")
            continue
        out.append((name, tracker))
    return out


def attach(experiment: Experiment, plugins: Plugins, root: Path,
           warn: Callable[[str], None] = console.warn) -> Hub | None:
    """Build the experiment's trackers, start them and register the hub; None without trackers."""
    if plugins.pm.has_plugin(HUB):
        return plugins.pm.get_plugin(HUB)
    trackers = build_trackers(experiment, plugins, warn)
    if not trackers:
        return None
    hub = Hub(trackers, Path(root), warn)
    hub.call("start_experiment", experiment.name, Path(root))
    plugins.pm.register(hub, name=HUB)
    return hub


def detach(plugins: Plugins, hub: Hub | None) -> None:
    """End the trackers and unregister the hub (the plugin manager may serve other runs);
    a hub already detached is left alone."""
    if hub is None or plugins.pm.get_plugin(HUB) is not hub:
        return
    hub.call("end_experiment")
    plugins.pm.unregister(name=HUB)


def log_derived(experiment: Experiment, plugins: Plugins, root: Path, ids: Iterable[str],
                warn: Callable[[str], None] = console.warn) -> None:
    """Log the finished ensemble and TTA rows ``ids`` (folders of ``root``) to the trackers."""
    ids = [i for i in ids if (Path(root) / i / "metrics.json").exists()]
    if not getattr(experiment, "trackers", ()) or not ids:
        return
    hub = attach(experiment, plugins, root, warn)
    try:
        for folder_id in ids:
            folder = Path(root) / folder_id
            config = _read_json(folder / "config.json")
            kind = str(config.get("kind", "ensemble"))
            view = TrackedCell(folder_id, str(config.get("row", folder_id)), config, folder, kind)
            hub.call("log_row", view, _numbers(_read_json(folder / "metrics.json")), view.files())
    finally:
        detach(plugins, hub)
