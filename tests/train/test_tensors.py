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
