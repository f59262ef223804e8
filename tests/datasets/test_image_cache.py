"""The decode-once cache: decoding, reuse, invalidation and repair of entries."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from harness.cache import cache_dir, decode_image, decode_mask, load_stack, stack_key

SIZE = 16


@pytest.fixture
def images(tmp_path):
    """Five files: RGB and grey, at the output size and larger."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    root.mkdir()
    paths = []
    for i in range(5):
        shape = (SIZE, SIZE, 3) if i % 2 == 0 else (2 * SIZE, 3 * SIZE)
        path = root / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
        paths.append(path)
    return root, paths


def reference(path):
    image = Image.open(path).convert("RGB")
    if image.size != (SIZE, SIZE):
        image = image.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.asarray(image)


class Counting:
    """The real decoder, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, path, size, method):
        self.calls += 1
        return decode_image(path, size, method)


def test_first_load_decodes_every_file_and_matches_pillow(tmp_path, images):
    root, paths = images
    decoder = Counting()
    out = load_stack(paths, root=root, image_size=SIZE, decoder=decoder, directory=tmp_path / "cache")
    assert decoder.calls == 5 and not out.hit and out.failed == {}
    assert out.array.shape == (5, SIZE, SIZE, 3) and out.array.dtype == np.uint8
    for i, path in enumerate(paths):
        np.testing.assert_array_equal(out.array[i], reference(path))
    grey = np.asarray(Image.open(paths[1]).resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    for channel in range(3):  # grey is replicated into all three channels
        np.testing.assert_array_equal(out.array[1, ..., channel], grey)


def test_second_load_hits_the_cache_without_decoding(tmp_path, images):
    root, paths = images
    first = load_stack(paths, root=root, image_size=SIZE, directory=tmp_path / "cache")
    entry = tmp_path / "cache" / "images" / f"{first.key}.npy"
    stamp = entry.stat().st_mtime_ns
    decoder = Counting()
    second = load_stack(paths, root=root, image_size=SIZE, decoder=decoder, directory=tmp_path / "cache")
    assert second.hit and decoder.calls == 0 and second.key == first.key
    assert entry.stat().st_mtime_ns == stamp
    assert isinstance(second.array, np.memmap)
    np.testing.assert_array_equal(second.array, first.array)


def test_a_changed_image_invalidates_the_entry(tmp_path, images):
    root, paths = images
    first = load_stack(paths, root=root, image_size=SIZE, directory=tmp_path / "cache")
    Image.fromarray(np.full((SIZE, SIZE, 3), 7, np.uint8)).save(paths[2])
    later = paths[2].stat().st_mtime_ns + 10**9  # a clock tick may be coarser than the rewrite
    os.utime(paths[2], ns=(later, later))
    decoder = Counting()
    second = load_stack(paths, root=root, image_size=SIZE, decoder=decoder, directory=tmp_path / "cache")
    assert second.key != first.key and decoder.calls == 5 and not second.hit
    assert (second.array[2] == 7).all()
    np.testing.assert_array_equal(second.array[0], first.array[0])


def test_key_covers_labels_size_and_resize_method(images):
    root, paths = images
    base = stack_key(paths, root=root, image_size=SIZE, resize="bilinear", kind="image", labels=[0, 1, 0, 1, 0])
    assert base == stack_key(paths, root=root, image_size=SIZE, resize="bilinear", kind="image", labels=[0, 1, 0, 1, 0])
    assert base != stack_key(paths, root=root, image_size=SIZE, resize="bilinear", kind="image", labels=[1, 1, 0, 1, 0])
    assert base != stack_key(paths, root=root, image_size=SIZE + 1, resize="bilinear", kind="image", labels=[0, 1, 0, 1, 0])
    assert base != stack_key(paths, root=root, image_size=SIZE, resize="nearest", kind="image", labels=[0, 1, 0, 1, 0])


@pytest.mark.parametrize("damage", ["drop_json", "truncate_npy"])
def test_partial_or_corrupt_entries_are_rebuilt(tmp_path, images, damage):
    root, paths = images
    first = load_stack(paths, root=root, image_size=SIZE, directory=tmp_path / "cache")
    expected = np.array(first.array)
    base = tmp_path / "cache" / "images" / first.key
    del first
    if damage == "drop_json":
        base.with_suffix(".json").unlink()
    else:
        data = base.with_suffix(".npy").read_bytes()
        base.with_suffix(".npy").write_bytes(data[: len(data) // 2])
    decoder = Counting()
    again = load_stack(paths, root=root, image_size=SIZE, decoder=decoder, directory=tmp_path / "cache")
    assert not again.hit and decoder.calls == 5
    np.testing.assert_array_equal(again.array, expected)
    assert load_stack(paths, root=root, image_size=SIZE, directory=tmp_path / "cache").hit


def test_undecodable_files_are_reported_not_raised(tmp_path, images):
    root, paths = images
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) // 2])
    out = load_stack(paths, root=root, image_size=SIZE, directory=tmp_path / "cache")
    assert list(out.failed) == [3]
    assert (out.array[3] == 0).all()
    assert load_stack(paths, root=root, image_size=SIZE, directory=tmp_path / "cache").failed.keys() == {3}


def test_masks_are_binary_and_resized_by_area(tmp_path):
    mask = np.zeros((32, 32), np.uint8)
    mask[8:12, 20:24] = 255  # 4x4 block -> 2x2 block at half size
    mask[0, 0] = 255  # a single pixel covers a quarter of its output pixel: dropped
    Image.fromarray(mask).save(tmp_path / "m.png")
    out = decode_mask(tmp_path / "m.png", 16)
    expected = np.zeros((16, 16), np.uint8)
    expected[4:6, 10:12] = 1
    np.testing.assert_array_equal(out, expected)
    stack = load_stack([tmp_path / "m.png", None], root=tmp_path, image_size=16, kind="mask",
                       directory=tmp_path / "cache")
    np.testing.assert_array_equal(stack.array[0], expected)
    assert stack.array.shape == (2, 16, 16) and not stack.array[1].any()


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 100], [257 * 200, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    out = decode_image(tmp_path / "deep.png", 2)
    np.testing.assert_array_equal(out[..., 0], [[0, 100], [200, 255]])


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch, images):
    root, paths = images
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    out = load_stack(paths, root=root, image_size=SIZE)
    assert (tmp_path / "elsewhere" / "images" / f"{out.key}.npy").is_file()
    monkeypatch.delenv("HARNESS_CACHE_DIR")
    assert cache_dir() == tmp_path.home() / ".cache" / "harness"
