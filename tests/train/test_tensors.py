from __future__ import annotations

import torch

from harness.train.tensors import augment


def batch(b=16, size=8):
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (b, 3, size, size), generator=g, dtype=torch.uint8)
    masks = torch.zeros(b, size, size, dtype=torch.uint8)
    masks[:, 1:3, 5:7] = 1  # off-centre so every flip moves it
    return images, masks


def test_flips_move_images_and_masks_together():
    images, masks = batch()
    out, out_masks = augment(images, masks, {"hflip": 1.0}, torch.Generator().manual_seed(0))
    assert torch.equal(out, images.flip(-1)) and torch.equal(out_masks, masks.flip(-1))
    out, out_masks = augment(images, masks, {"vflip": 1.0, "rot90": 1.0}, torch.Generator().manual_seed(0))
    assert torch.equal(out, images.flip(-2).rot90(1, dims=(-2, -1)))
    assert torch.equal(out_masks, masks.flip(-2).rot90(1, dims=(-2, -1)))


def test_per_sample_choice_is_seeded_and_partial():
    images, masks = batch(64)
    a, am = augment(images, masks, {"hflip": 0.5}, torch.Generator().manual_seed(3))
    b, bm = augment(images, masks, {"hflip": 0.5}, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(am, bm)
    flipped = [bool(torch.equal(a[i], images[i].flip(-1))) for i in range(64)]
    kept = [bool(torch.equal(a[i], images[i])) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 15 < sum(flipped) < 49
    for i in range(64):
        assert torch.equal(am[i], masks[i].flip(-1) if flipped[i] else masks[i])


def test_photometric_changes_pixels_not_masks():
    images, masks = batch()
    out, out_masks = augment(images, masks, {"color_jitter": 1.0, "noise": 1.0}, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and not torch.equal(out, images)
    assert torch.equal(out_masks, masks)


def test_resized_crop_keeps_unchosen_samples_and_binary_masks():
    images, masks = batch(32, 16)
    out, out_masks = augment(images, masks, {"resized_crop": 0.5}, torch.Generator().manual_seed(5))
    same = [bool(torch.equal(out[i], images[i])) for i in range(32)]
    assert 0 < sum(same) < 32
    for i in range(32):
        if same[i]:
            assert torch.equal(out_masks[i], masks[i])
    assert set(out_masks.unique().tolist()) <= {0, 1}


def test_no_augmentation_is_identity():
    images, masks = batch()
    out, out_masks = augment(images, masks, {}, torch.Generator().manual_seed(0))
    assert out is images and out_masks is masks


def _mapped_split(tmp_path, n=6, size=8):
    import numpy as np

    from harness.data import Split

    rng = np.random.default_rng(0)
    np.save(tmp_path / "images.npy", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8))
    np.save(tmp_path / "masks.npy", (rng.random((n, size, size)) > 0.7).astype(np.uint8))
    images = np.load(tmp_path / "images.npy", mmap_mode="c")  # as the dataset cache maps its arrays
    masks = np.load(tmp_path / "masks.npy", mmap_mode="c")
    return Split(images, np.arange(n) % 2, tuple(f"s{i}" for i in range(n)), masks=masks), images, masks


def test_split_tensors_are_views_of_the_memory_map_not_copies(tmp_path):
    import numpy as np

    from harness.train.evaluate import make_batch
    from harness.train.tensors import to_tensors

    split, images, masks = _mapped_split(tmp_path)
    data = to_tensors(split)
    assert data.images.untyped_storage().data_ptr() == images.ctypes.data
    assert data.masks.untyped_storage().data_ptr() == masks.ctypes.data
    assert data.images.shape == (6, 3, 8, 8)
    np.testing.assert_array_equal(data.images.numpy(), images.transpose(0, 3, 1, 2))
    index = torch.tensor([4, 1, 3])
    batch = make_batch(data, index, None, torch.device("cpu"))
    copied = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()  # the old copy
    assert batch.images.is_contiguous() and torch.equal(batch.images, copied[index])
    assert torch.equal(batch.masks, torch.from_numpy(np.asarray(masks))[index].float())


def test_eval_tensors_crop_images_and_masks_together_only_when_asked(tmp_path):
    from harness import Preprocessing
    from harness.train.tensors import eval_tensors, to_tensors

    split, images, _ = _mapped_split(tmp_path, size=16)
    whole = eval_tensors(split, Preprocessing())
    assert whole.images.untyped_storage().data_ptr() == images.ctypes.data
    prep = Preprocessing(crop_pct=0.75, interpolation="bicubic")
    cropped = eval_tensors(split, prep)
    expected_images, expected_masks = prep.eval_crop(to_tensors(split).images, to_tensors(split).masks)
    assert torch.equal(cropped.images, expected_images) and torch.equal(cropped.masks, expected_masks)
    assert cropped.images.shape == (6, 3, 16, 16) and cropped.sample_ids == split.sample_ids


def test_resized_crop_resamples_with_the_models_interpolation():
    images, masks = batch(32, 16)
    bilinear, m1 = augment(images, masks, {"resized_crop": 1.0}, torch.Generator().manual_seed(5))
    bicubic, m2 = augment(images, masks, {"resized_crop": 1.0}, torch.Generator().manual_seed(5), "bicubic")
    assert torch.equal(m1, m2)  # the same boxes; masks always nearest
    assert not torch.equal(bilinear, bicubic)
    assert (bilinear.float() - bicubic.float()).abs().mean() < 40  # the same crops, resampled differently
