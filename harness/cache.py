"""Decode-once image cache: every split is decoded and resized once, then memory-mapped.

A dataset plugin hands :func:`load_stack` the files of one split in sample order. The
first call decodes them (on a thread pool: Pillow releases the GIL while decoding and
resizing) straight into a ``.npy`` file opened with ``np.lib.format.open_memmap``; every
later call, in this run or the next, maps that file instead of decoding anything.

An entry is keyed by a fingerprint of the data: the files' paths relative to the dataset
root, their sizes and a hash of their content (BLAKE2b, read on a thread pool), the
labels, the output size, the resize method and the kind of stack (images or masks).
Editing or swapping any file (even with its modification time put back), or relabelling
any sample, gives a new key. Each cached array carries a BLAKE2b checksum of its file,
verified the first time a process maps it: a flipped byte rebuilds the entry instead of
being served as pixels. Entries live in ``$HARNESS_CACHE_DIR`` (default
``~/.cache/harness``) under ``images/``, as ``<key>.npy`` plus ``<key>.json``:

- the ``.npy`` is written under a temporary name and renamed into place, then the
  ``.json`` (shape and unreadable files) the same way, so the ``.json`` marks a complete
  entry and concurrent writers never see each other's partial files;
- an entry whose ``.json`` is missing or unreadable, whose array does not load with
  the recorded shape, or whose checksum does not match, is rebuilt;
- the space for a new array is reserved before decoding starts, so a full disk is a
  plain error naming the file, not a crash halfway through a memory-mapped write.

Nothing is ever evicted: delete the directory to reclaim the space.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

CACHE_VERSION = "2"  # 2: content hashes in the key, array checksums
RESIZE_METHODS = ("bilinear", "bicubic", "lanczos", "box", "hamming", "nearest")
KINDS = ("image", "mask")

Decoder = Callable[[Path, int, str], np.ndarray]


def cache_dir() -> Path:
    """The cache root: ``$HARNESS_CACHE_DIR`` if set, else ``~/.cache/harness``."""
    configured = os.environ.get("HARNESS_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "harness"


@dataclass(frozen=True)
class Decoded:
    """One decoded stack.

    Attributes:
        array: ``[N, S, S, 3]`` uint8 images or ``[N, S, S]`` 0/1 masks, memory-mapped
            copy-on-write (writes never reach the file).
        failed: sample index to the reason its file could not be decoded; those rows
            are zero.
        key: the cache key (a data fingerprint).
        hit: whether the stack came from the cache without decoding.
    """

    array: np.ndarray
    failed: dict[int, str] = field(default_factory=dict)
    key: str = ""
    hit: bool = False


def _resample(method: str) -> int:
    from PIL import Image

    if method not in RESIZE_METHODS:
        raise HarnessError(f"unknown resize method {method!r}; choose one of {', '.join(RESIZE_METHODS)}")
    return getattr(Image.Resampling, method.upper())


def _to_rgb(image):  # noqa: ANN001, ANN202 - PIL types stay lazy
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale (common for industrial cameras): scale to 8 bits instead of clipping.
        wide = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        image = Image.fromarray((wide // 257).astype(np.uint8))
    return image if image.mode == "RGB" else image.convert("RGB")


def decode_image(path: Path, image_size: int, method: str = "bilinear") -> np.ndarray:
    """Decode one image file to ``[S, S, 3]`` uint8 RGB (grey is replicated).

    Args:
        path: the file.
        image_size: output side ``S``; the image is resized to a square without padding.
        method: one of :data:`RESIZE_METHODS`.
    """
    from PIL import Image

    with Image.open(path) as image:
        image.draft("RGB", (image_size, image_size))  # JPEG: decode at a reduced scale when much larger
        image = _to_rgb(image)
        if image.size != (image_size, image_size):
            image = image.resize((image_size, image_size), _resample(method))
        return np.asarray(image, dtype=np.uint8)


def decode_mask(path: Path, image_size: int, method: str = "box") -> np.ndarray:
    """Decode one mask file to ``[S, S]`` uint8 with 1 inside a defect.

    Any non-zero value marks a defect (0/255, 0/1 and label-valued masks all work). A
    resized pixel is inside when at least half of its area was (``method`` is ignored:
    area averaging keeps masks aligned with their images at any scale).
    """
    from PIL import Image

    with Image.open(path) as image:
        values = np.asarray(image)
    if values.ndim == 3:
        values = values.max(axis=-1)
    binary = Image.fromarray(np.where(values > 0, 255, 0).astype(np.uint8))
    if binary.size != (image_size, image_size):
        binary = binary.resize((image_size, image_size), Image.Resampling.BOX)
    return (np.asarray(binary) >= 128).astype(np.uint8)


def stack_key(files: Sequence[Path | None], *, root: Path, image_size: int, resize: str, kind: str,
              labels: Sequence[int] | None = None, workers: int = 0) -> str:
    """The fingerprint that names a stack's cache entry (first 24 hex of a sha256).

    Args:
        files: one file per sample in sample order; None for an all-zero row (a mask
            that does not exist).
        root: paths are hashed relative to it, so a moved dataset still hits the cache.
        image_size, resize, kind: how the files are decoded.
        labels: optional per-sample labels, hashed with the files.
        workers: threads reading the files (0: :func:`default_workers`).

    Raises:
        HarnessError: a file cannot be read.
    """
    h = hashlib.sha256(json.dumps([CACHE_VERSION, kind, image_size, resize]).encode())
    digests = _digests(files, workers or default_workers())
    for i, path in enumerate(files):
        label = "" if labels is None else int(labels[i])
        if path is None:
            h.update(f"\0-\0{label}\n".encode())
            continue
        rel = os.path.relpath(path, root) if Path(path).is_absolute() == Path(root).is_absolute() else str(path)
        size, content = digests[i]
        h.update(f"\0{Path(rel).as_posix()}\0{size}\0{content}\0{label}\n".encode())
    return h.hexdigest()[:24]


def file_digest(path: Path) -> tuple[int, str]:
    """Size and BLAKE2b-128 of a file's bytes.

    Raises:
        HarnessError: the file cannot be read.
    """
    h = hashlib.blake2b(digest_size=16)
    size = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)  # hashlib releases the GIL on large buffers: threads read in parallel
                size += len(chunk)
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror or exc}") from None
    return size, h.hexdigest()


def _digests(files: Sequence[Path | None], workers: int) -> list[tuple[int, str]]:
    present = [(i, p) for i, p in enumerate(files) if p is not None]
    out: list[tuple[int, str]] = [(0, "")] * len(files)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for (i, _), found in zip(present, pool.map(lambda item: file_digest(item[1]), present)):
            out[i] = found
    return out


def _shape(n: int, image_size: int, kind: str) -> tuple[int, ...]:
    return (n, image_size, image_size, 3) if kind == "image" else (n, image_size, image_size)


_VERIFIED: set[tuple[str, int, int, str]] = set()  # arrays whose checksum this process has checked


def array_checksum(path: Path) -> str:
    """BLAKE2b-128 of a cached array's file."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
    return h.hexdigest()


def _verified(npy: Path, expected: str) -> bool:
    """Whether ``npy`` matches its recorded checksum; read once per process and file version."""
    info = npy.stat()
    token = (str(npy), info.st_size, info.st_mtime_ns, expected)
    if token in _VERIFIED:
        return True
    if array_checksum(npy) != expected:
        return False
    _VERIFIED.add(token)
    return True


def _read_entry(base: Path, shape: tuple[int, ...]) -> Decoded | None:
    """The complete entry at ``base``, or None when it is missing, partial or corrupt."""
    try:
        meta = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
        if meta.get("version") != CACHE_VERSION or tuple(meta["shape"]) != shape:
            return None
        npy = base.with_suffix(".npy")
        if not isinstance(meta.get("checksum"), str) or not _verified(npy, meta["checksum"]):
            return None
        array = np.load(npy, mmap_mode="c")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if array.shape != shape or array.dtype != np.uint8:
        return None
    failed = {int(k): str(v) for k, v in meta.get("failed", {}).items()}
    return Decoded(array, failed, base.name, hit=True)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _decode_into(out: np.ndarray, files: Sequence[Path | None], decoder: Decoder, image_size: int, resize: str,
                 workers: int) -> dict[int, str]:
    failed: dict[int, str] = {}

    def work(i: int) -> None:
        path = files[i]
        if path is None:
            return  # the rows of a fresh .npy are already zero
        try:
            out[i] = decoder(path, image_size, resize)
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files; the caller decides
            failed[i] = f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, range(len(files))))
    return failed


def default_workers() -> int:
    """Decoding threads when not configured: one per CPU core, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def load_stack(files: Sequence[Path | None], *, root: Path, image_size: int, resize: str = "bilinear",
               kind: str = "image", labels: Sequence[int] | None = None, workers: int = 0,
               decoder: Decoder | None = None, directory: Path | None = None) -> Decoded:
    """Decode ``files`` once into a cached, memory-mapped stack (see the module docstring).

    Args:
        files: one path per sample, in sample order; None gives an all-zero row (masks).
        root: the dataset root that relative paths in the key are taken from.
        image_size: output side in pixels.
        resize: resize method for images, one of :data:`RESIZE_METHODS`.
        kind: ``"image"`` (``[N, S, S, 3]``) or ``"mask"`` (``[N, S, S]``, 0/1).
        labels: per-sample labels, part of the key.
        workers: decoding threads; 0 means :func:`default_workers`.
        decoder: ``decoder(path, image_size, resize) -> array``; defaults to
            :func:`decode_image` or :func:`decode_mask` by ``kind``.
        directory: cache root; defaults to :func:`cache_dir`.

    Returns:
        The stack; undecodable files are listed in ``failed``, not raised.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    _resample(resize)  # an unknown method fails before any work
    shape = _shape(len(files), image_size, kind)
    key = stack_key(files, root=root, image_size=image_size, resize=resize, kind=kind, labels=labels,
                    workers=workers)
    if not files:
        return Decoded(np.zeros(shape, np.uint8), {}, key)
    folder = (directory or cache_dir()) / "images"
    base = folder / key
    cached = _read_entry(base, shape)
    if cached is not None:
        return cached
    tmp = folder / f".{key}.{uuid.uuid4().hex}.npy.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _reserve(tmp)
        decode = decoder or (decode_image if kind == "image" else decode_mask)
        failed = _decode_into(out, files, decode, image_size, resize, workers or default_workers())
        out.flush()
        del out
        checksum = array_checksum(tmp)
        os.replace(tmp, base.with_suffix(".npy"))
        meta = {"version": CACHE_VERSION, "kind": kind, "shape": list(shape), "checksum": checksum,
                "failed": {str(k): v for k, v in failed.items()}}
        _atomic_text(base.with_suffix(".json"), json.dumps(meta, indent=1))
    except OSError as exc:
        from harness.store import write_failure

        raise write_failure(Path(exc.filename) if exc.filename else base.with_suffix(".npy"), exc) from exc
    finally:
        tmp.unlink(missing_ok=True)
    npy = base.with_suffix(".npy")
    info = npy.stat()
    _VERIFIED.add((str(npy), info.st_size, info.st_mtime_ns, checksum))  # this process just wrote it
    return Decoded(np.load(npy, mmap_mode="c"), failed, key, hit=False)


def _reserve(path: Path) -> None:
    """Allocate the file's blocks now: a memory-mapped write to a full disk is a SIGBUS."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without it: write as before
            return
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        os.close(fd)
