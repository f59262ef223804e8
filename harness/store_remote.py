"""The artifact store: a mirror of finished cell folders at any fsspec URL (``[store] uri``).

Each finished cell's folder is uploaded after it is done, ``status.json`` last, so a
folder with a remote ``status.json`` is complete. ``harness run`` on another machine with
the same ``uri`` first downloads the stored cells it lacks and so skips them; it also
uploads local finished cells the store lacks (an upload that failed before). The store
only ever mirrors: when it cannot be reached the cell stays done locally, a warning names
the failure, and a later run uploads what is missing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from harness.console import warn
from harness.store import STATUS, read_cell

if TYPE_CHECKING:
    from harness.config import Experiment
    from harness.matrix import Cell
    from harness.plugins import Plugins

MIRROR = "harness-store"
"""Name under which the mirror is registered into the plugin manager during a run."""
LOCAL_ONLY = ("resume.pt",)  # training state of an unfinished cell
CHECKPOINTS = (".safetensors", ".pt", ".ckpt")
_hookimpl = pluggy.HookimplMarker("harness")


def _warn(message: str) -> None:
    warn(message)


@dataclass
class RemoteStore:
    """One experiment's folder in the store: ``<uri>/<experiment>/<cell id>/...``."""

    uri: str
    experiment: str
    checkpoints: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    warn: Callable[[str], None] = _warn

    def __post_init__(self) -> None:
        import fsspec

        self.fs, base = fsspec.core.url_to_fs(self.uri, **self.options)
        self.base = f"{base.rstrip('/')}/{self.experiment}"

    def where(self, cell_id: str = "") -> str:
        return f"{self.uri.rstrip('/')}/{self.experiment}" + (f"/{cell_id}" if cell_id else "")

    def _remote(self, cell_id: str, name: str = "") -> str:
        return f"{self.base}/{cell_id}" + (f"/{name}" if name else "")

    def stored(self) -> set[str]:
        """Ids of the cells whose folder is complete in the store."""
        self.fs.invalidate_cache()  # another machine may have added cells since the last listing
        try:
            found = self.fs.glob(f"{self.base}/*/{STATUS}")
        except FileNotFoundError:
            return set()
        return {Path(p).parent.name for p in found}

    def push(self, folder: Path, only_missing: bool = False) -> int:
        """Upload a done cell folder, ``status.json`` last; returns the number of files sent.

        Args:
            only_missing: send only files the store lacks or holds with another size
                (files added after the cell finished, such as backfilled TTA views).
        """
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in LOCAL_ONLY
                       and not p.name.startswith(".") and p.name != STATUS)
        if only_missing:
            self.fs.invalidate_cache()
            there = {Path(e["name"]).name: e.get("size") for e in self.fs.ls(self._remote(folder.name), detail=True)}
            files = [p for p in files if there.get(p.name) != p.stat().st_size]
            if not files:
                return 0
        self.fs.makedirs(self._remote(folder.name), exist_ok=True)
        for path in [*files, folder / STATUS]:
            self.fs.put_file(str(path), self._remote(folder.name, path.name))
        self.fs.invalidate_cache()
        return len(files) + 1

    def pull(self, cell_id: str, folder: Path) -> int:
        """Download a stored cell into ``folder`` (replacing what is there); returns files fetched.

        Files land in a hidden sibling folder first and move into place together, so an
        interrupted download never leaves a folder that looks done.
        """
        names = [Path(p).name for p in self.fs.ls(self._remote(cell_id), detail=False)]
        wanted = [n for n in names if n != STATUS and (self.checkpoints or not n.endswith(CHECKPOINTS))]
        partial = folder.parent / f".{cell_id}.pull"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in [*wanted, STATUS]:
            self.fs.get_file(self._remote(cell_id, name), str(partial / name))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
        return len(wanted) + 1


def open_store(experiment: Experiment, warn: Callable[[str], None] = _warn) -> RemoteStore | None:
    """The experiment's store, or None without ``[store]``."""
    spec = getattr(experiment, "store", None)
    if not spec:
        return None
    return RemoteStore(spec["uri"], experiment.name, bool(spec.get("checkpoints", True)),
                       dict(spec.get("options") or {}), warn)


def sync(store: RemoteStore, root: Path, cells: Iterable[Cell], echo: Callable[[str], None]) -> None:
    """Download the stored cells that are not done here; upload done ones the store lacks."""
    cells = list(cells)
    try:
        stored = store.stored()
    except Exception as exc:  # noqa: BLE001 - the store only mirrors: the run goes on
        store.warn(f"artifact store {store.where()} unreachable ({type(exc).__name__}: {exc}); "
                   "running without it")
        return
    pulled = 0
    for cell in cells:
        local = read_cell(root / cell.id).status == "done"
        try:
            if cell.id in stored and not local:
                store.pull(cell.id, root / cell.id)
                pulled += 1
            elif local and store.push(root / cell.id, only_missing=cell.id in stored):
                echo(f"{cell.id}: uploaded to {store.where()} what was missing there")
        except Exception as exc:  # noqa: BLE001
            store.warn(f"artifact store {store.where(cell.id)}: {type(exc).__name__}: {exc}; "
                       "the local run store is unchanged")
    if pulled:
        echo(f"artifact store {store.where()}: {pulled} finished cell(s) downloaded")


@dataclass
class Mirror:
    """Uploads each cell once it is done (``harness_cell_finish`` runs after ``status.json``)."""

    store: RemoteStore
    root: Path
    failed: list[str] = field(default_factory=list)

    @_hookimpl
    def harness_cell_finish(self, cell: Cell, metrics: dict[str, float]) -> None:
        folder = self.root / cell.id
        if not (folder / STATUS).exists() or json.loads((folder / STATUS).read_text()).get("status") != "done":
            return
        if self.failed:  # the store failed once in this run: no more waiting on its timeouts
            self.failed.append(cell.id)
            return
        try:
            self.store.push(folder)
        except Exception as exc:  # noqa: BLE001 - never fails a cell: it is done locally
            self.failed.append(cell.id)
            self.store.warn(f"artifact store {self.store.where(cell.id)}: upload failed ({type(exc).__name__}: "
                            f"{exc}); the cell stays done in {folder}, and the next harness run uploads it; "
                            "no further uploads are tried in this run")

    def close(self) -> None:
        """Name the cells that were not uploaded, beyond the one the warning named."""
        if len(self.failed) > 1:
            self.store.warn(f"artifact store {self.store.where()}: {len(self.failed)} finished cell(s) not uploaded "
                            f"({', '.join(self.failed)}); the next harness run uploads them")


def attach_store(experiment: Experiment, plugins: Plugins, root: Path, cells: Iterable[Cell],
                 echo: Callable[[str], None], pull: bool = True) -> Mirror | None:
    """Open the experiment's store, sync it (``pull``), and register the uploading mirror."""
    if plugins.pm.has_plugin(MIRROR):
        return plugins.pm.get_plugin(MIRROR)
    try:
        store = open_store(experiment)
    except Exception as exc:  # noqa: BLE001 - e.g. s3fs not installed, a malformed URL
        _warn(f"artifact store {experiment.store['uri']} cannot be opened ({type(exc).__name__}: {exc}); "
              "running without it")
        return None
    if store is None:
        return None
    if pull:
        sync(store, Path(root), cells, echo)
    mirror = Mirror(store, Path(root))
    plugins.pm.register(mirror, name=MIRROR)
    return mirror


def detach_store(plugins: Plugins, mirror: Mirror | None) -> None:
    """Unregister the mirror (the plugin manager may serve other runs) after its last word."""
    if mirror is not None:
        mirror.close()
        if plugins.pm.has_plugin(MIRROR):
            plugins.pm.unregister(name=MIRROR)
