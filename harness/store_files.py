"""Writing and reading the run store's files safely.

Every write goes through a temporary file, ``fsync`` and a rename, so a file is either
its old content or its new one; a write the file system refuses is one
:class:`StoreWriteError` in words. Every read that fails names the file
(:class:`DamagedFileError`), and :func:`check_cell_files` cheaply tells a done cell's
whole tables, arrays and weights from truncated ones.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError


class StoreWriteError(HarnessError):
    """A file of the run store, the cache or a leaderboard could not be written.

    The message is plain: ``no space left on device writing runs/x/cell/checkpoint.safetensors``.
    """


def write_failure(path: Path, exc: BaseException) -> StoreWriteError:
    """A :class:`StoreWriteError` that says what went wrong writing ``path``, in words.

    ``OSError`` gives its own words; a library that hides the ``OSError`` (torch's
    ``inline_container.cc`` "unexpected pos") is explained by the free space left.
    """
    if isinstance(exc, StoreWriteError):
        return exc
    if isinstance(exc, OSError) and exc.strerror:
        return StoreWriteError(f"{exc.strerror[0].lower()}{exc.strerror[1:]} writing {path}")
    try:
        full = shutil.disk_usage(path.parent if path.parent.exists() else Path(".")).free < 1 << 20
    except OSError:
        full = False
    if full:
        return StoreWriteError(f"no space left on device writing {path}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreWriteError(f"could not write {path}: {first}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Raises:
        StoreWriteError: the file system refused (full, read-only, gone); ``path`` keeps
            its previous content.
    """
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_failure(path, exc) from exc
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class DamagedFileError(HarnessError):
    """A stored file exists but cannot be read (truncated, overwritten, not JSON)."""


def read_json_checked(path: Path) -> Any:
    """``read_json`` whose failures name the file.

    Raises:
        DamagedFileError: the file is unreadable or not JSON.
    """
    try:
        return read_json(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DamagedFileError(f"{path}: unreadable ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check_cell_files(path: Path) -> None:
    """Cheap checks that a done cell's tables, arrays and weights are whole.

    Raises:
        DamagedFileError: naming the first damaged file.
    """
    for table in sorted(path.glob("predictions_*.csv")):
        _check_table(table)
    for archive in sorted(path.glob("*.npz")):
        _check_npz(archive)
    checkpoint = path / "checkpoint.safetensors"
    if checkpoint.exists():
        _check_safetensors(checkpoint)


def _check_table(path: Path) -> None:
    data = path.read_bytes()
    lines = data.split(b"\n")
    if not data.endswith(b"\n") or len(lines) < 2:
        raise DamagedFileError(f"{path}: truncated (no final line end)")
    width = lines[0].count(b",")
    for number, line in enumerate(lines[1:-1], start=2):
        if line.count(b",") != width:
            raise DamagedFileError(f"{path}: line {number} has {line.count(b',') + 1} fields, the header {width + 1}")


def _check_npz(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.header_offset + info.compress_size > path.stat().st_size:
                    raise DamagedFileError(f"{path}: truncated ({info.filename} runs past the end)")
    except (zipfile.BadZipFile, OSError) as exc:
        raise DamagedFileError(f"{path}: unreadable ({_why(exc)})") from None


def _check_safetensors(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise DamagedFileError(f"{path}: truncated ({size} bytes)")
        n = int.from_bytes(head, "little")
        if n > size - 8:
            raise DamagedFileError(f"{path}: truncated (header of {n} bytes in a {size}-byte file)")
        try:
            header = json.loads(f.read(n))
        except ValueError:
            raise DamagedFileError(f"{path}: unreadable (its header is not JSON)") from None
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    if 8 + n + max(ends, default=0) != size:
        raise DamagedFileError(f"{path}: truncated ({size} bytes, the header describes {8 + n + max(ends, default=0)})")
