"""The cache checks what it serves: array checksums, content hashes of source images,
and a full disk as a plain error."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

import harness.cache as cache_module
from harness.cache import array_checksum, cache_dir, load_stack, stack_key
from harness.errors import HarnessError

SIZE = 16


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "data"
    root.mkdir()
    paths = []
    for i in range(4):
        path = root / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return root, paths


def _new_process(monkeypatch) -> None:
    """What a new process knows: no array verified yet."""
    monkeypatch.setattr(cache_module, "_VERIFIED", set())


def test_a_flipped_byte_in_a_cached_array_is_not_served(images, monkeypatch):
    root, paths = images
    first = load_stack(paths, root=root, image_size=SIZE)
    clean = np.array(first.array)
    npy = cache_dir() / "images" / f"{first.key}.npy"
    data = bytearray(npy.read_bytes())
    data[-5] ^= 0xFF  # one pixel byte of the last image
    npy.write_bytes(bytes(data))
    _new_process(monkeypatch)
    again = load_stack(paths, root=root, image_size=SIZE)
    assert not again.hit  # the checksum did not match: rebuilt from the files
    np.testing.assert_array_equal(np.asarray(again.array), clean)
    _new_process(monkeypatch)
    assert load_stack(paths, root=root, image_size=SIZE).hit  # and the rebuilt entry verifies


def test_checksum_is_recorded_and_checked_once_per_process(images, monkeypatch):
    root, paths = images
    first = load_stack(paths, root=root, image_size=SIZE)
    import json

    meta = json.loads((cache_dir() / "images" / f"{first.key}.json").read_text())
    assert meta["checksum"] == array_checksum(cache_dir() / "images" / f"{first.key}.npy")
    _new_process(monkeypatch)
    calls = []
    real = cache_module.array_checksum
    monkeypatch.setattr(cache_module, "array_checksum", lambda p: calls.append(p) or real(p))
    for _ in range(3):
        assert load_stack(paths, root=root, image_size=SIZE).hit
    assert len(calls) == 1


def test_swapped_images_with_restored_times_get_a_new_key(images):
    root, paths = images
    key = stack_key(paths, root=root, image_size=SIZE, resize="bilinear", kind="image", labels=[0, 1, 0, 1])
    a, b = paths[0], paths[2]
    assert a.stat().st_size == b.stat().st_size  # same size, same times: only the content tells them apart
    times = {p: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in (a, b)}
    tmp = a.with_suffix(".swap")
    shutil.move(a, tmp)
    shutil.move(b, a)
    shutil.move(tmp, b)
    for p, t in times.items():
        os.utime(p, ns=t)
    swapped = stack_key(paths, root=root, image_size=SIZE, resize="bilinear", kind="image", labels=[0, 1, 0, 1])
    assert swapped != key
    os.utime(paths[1], ns=(1, 1))  # touching alone changes nothing the model would see
    assert stack_key(paths, root=root, image_size=SIZE, resize="bilinear", kind="image",
                     labels=[0, 1, 0, 1]) == swapped


def test_an_unreadable_file_is_named(images):
    root, paths = images
    with pytest.raises(HarnessError, match="cannot read .*missing.png"):
        stack_key([*paths, root / "missing.png"], root=root, image_size=SIZE, resize="bilinear", kind="image")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None,
                    reason="mounting a small tmpfs needs root (CI runs as root)")
def test_a_full_disk_while_caching_is_a_plain_error(images, tmp_path, monkeypatch):
    root, paths = images
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        monkeypatch.setenv("HARNESS_CACHE_DIR", str(mnt))
        with open(mnt / "filler", "wb") as f:
            try:
                f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        many = paths * 64  # 256 images of 16 x 16 x 3: far more than the space left
        with pytest.raises(HarnessError, match=r"^no space left on device writing .*small/images/"):
            load_stack(many, root=root, image_size=SIZE)
        assert not [p for p in (mnt / "images").iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
