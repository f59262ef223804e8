"""``synthetic-defects``: the embedded default dataset, built offline in about a second.

Normal images are crops of the CC0 textures that ship inside scikit-image (brick, grass,
gravel). Defects are drawn onto crops at the output resolution, and a defect's mask is
exactly the set of pixels the defect changed, so localisation metrics have ground truth.
Each texture is cut into three vertical bands, one per split: no test pixel is ever seen in
training. The data depend only on the options (``seed`` included), not on the training seed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from harness import options as opt

GENERATOR_VERSION = "4"  # 3: blob fill comes from the split's own band; 4: defects drawn more visibly
TEXTURES = ("brick", "grass", "gravel")
KINDS = ("crack", "blob", "patch", "stain")
BANDS = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}
CROP = 96  # source pixels per crop, before resizing to image_size
DEFAULTS: dict[str, Any] = {
    "n_train": 160, "n_val": 48, "n_test": 64, "defect_ratio": 0.5, "textures": list(TEXTURES),
    "defect_kinds": list(KINDS), "channels": 3, "seed": 0,
}


OPTIONS = opt.Options(
    "dataset 'synthetic-defects'",
    image_size=opt.Int(64, min=8, doc="side of the square images"),
    n_train=opt.Int(DEFAULTS["n_train"], min=2), n_val=opt.Int(DEFAULTS["n_val"], min=2),
    n_test=opt.Int(DEFAULTS["n_test"], min=2),
    defect_ratio=opt.Float(DEFAULTS["defect_ratio"], gt=0, lt=1, doc="share of defective images per split"),
    textures=opt.List(opt.Choice(*TEXTURES), DEFAULTS["textures"], min_items=1),
    defect_kinds=opt.List(opt.Choice(*KINDS), DEFAULTS["defect_kinds"], min_items=1),
    channels=opt.Choice(1, 3, default=DEFAULTS["channels"], doc="3 = RGB, 1 = grey"),
    seed=opt.Int(DEFAULTS["seed"], min=0, doc="numpy rejects negative seeds"),
)
"""What ``[dataset]`` takes for the embedded data."""


def check(options: dict[str, Any]) -> list[opt.Problem]:
    """Problems with the options, without building anything."""
    return OPTIONS.check(options)


def _texture(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    return image if image.ndim == 2 else image[..., 0]


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BOX))


def _smooth_blob(rng: np.random.Generator, size: int, area: tuple[float, float]) -> np.ndarray:
    """A soft-edged irregular blob in [0, 1], covering roughly ``area`` of the image."""
    from scipy import ndimage

    yy, xx = np.mgrid[0:size, 0:size] / size
    cy, cx = rng.uniform(0.25, 0.75, size=2)
    radius = np.sqrt(rng.uniform(*area) / np.pi)
    ry, rx = radius * rng.uniform(0.7, 1.4, size=2)
    noise = ndimage.gaussian_filter(rng.normal(size=(size, size)), sigma=max(size / 12, 1.0))
    field = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 + noise * 2.0
    return np.clip((1.15 - field) / 0.3, 0.0, 1.0)


def crack(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dark or bright random-walk stroke, one to three pixels wide."""
    from scipy import ndimage

    size = clean.shape[0]
    stroke = np.zeros_like(clean, dtype=bool)
    y, x = rng.uniform(0.2, 0.8, size=2) * size
    angle = rng.uniform(0, 2 * np.pi)
    for _ in range(int(size * rng.uniform(0.7, 1.3))):
        angle += rng.normal(0, 0.35)
        y, x = y + np.sin(angle), x + np.cos(angle)
        if not (0 <= y < size and 0 <= x < size):
            break
        stroke[int(y), int(x)] = True
    width = max(1, round(size / 24))  # 2 px at 32-48 px, 3 px at 64 px: visible after the first downsampling
    if width > 1:
        stroke = ndimage.binary_dilation(stroke, iterations=width - 1)
    out = clean.astype(np.float32)
    shade = rng.choice([0.25, 1.8])
    out[stroke] = out[stroke] * shade + (0 if shade < 1 else 50)
    return np.clip(out, 0, 255).astype(np.uint8)


def blob(clean: np.ndarray, rng: np.random.Generator, other: np.ndarray) -> np.ndarray:
    """Another texture blended in through a soft irregular blob."""
    alpha = _smooth_blob(rng, clean.shape[0], (0.04, 0.15))
    mixed = clean * (1 - alpha) + other * alpha
    return np.clip(mixed, 0, 255).astype(np.uint8)


def patch(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A square cut from elsewhere in the image, rotated, re-exposed and pasted in."""
    size = clean.shape[0]
    side = int(size * rng.uniform(0.2, 0.35))
    sy, sx, dy, dx = rng.integers(0, size - side, size=4)
    out = clean.astype(np.float32)
    exposure = rng.choice([rng.uniform(0.55, 0.7), rng.uniform(1.3, 1.5)])  # the seam shows, as on real parts
    piece = np.rot90(clean[sy:sy + side, sx:sx + side], k=int(rng.integers(1, 4))) * exposure
    out[dy:dy + side, dx:dx + side] = piece
    return np.clip(out, 0, 255).astype(np.uint8)


def stain(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smooth darkening or brightening with an irregular boundary."""
    alpha = _smooth_blob(rng, clean.shape[0], (0.06, 0.18))
    gain = 1 + alpha * rng.choice([-0.6, 0.7])
    return np.clip(clean * gain, 0, 255).astype(np.uint8)


def make_defect(clean: np.ndarray, kind: str, rng: np.random.Generator, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(defected, mask)``: the mask is exactly the pixels the defect changed."""
    for _ in range(8):  # a drawn defect can be too faint or tiny; draw again
        defected = blob(clean, rng, other) if kind == "blob" else {"crack": crack, "patch": patch,
                                                                   "stain": stain}[kind](clean, rng)
        mask = (defected != clean).astype(np.uint8)
        if mask.mean() >= 0.01:
            return defected, mask
    return defected, mask


def _split(name: str, n: int, size: int, options: dict[str, Any], textures: dict[str, np.ndarray],
           rng: np.random.Generator):
    from harness import Split

    lo, hi = BANDS[name]
    n_defect = int(round(n * options["defect_ratio"]))
    is_defect = rng.permutation(np.arange(n) < n_defect)
    images, masks, labels, ids, meta = [], [], [], [], []
    names = options["textures"]
    for i in range(n):
        texture_name = names[i % len(names)]
        texture = textures[texture_name]
        width = texture.shape[1]
        x0, x1 = int(lo * width), int(hi * width) - CROP
        x, y = int(rng.integers(x0, x1 + 1)), int(rng.integers(0, texture.shape[0] - CROP + 1))
        clean = _resize(texture[y:y + CROP, x:x + CROP], size)
        kind, mask, extra = "none", np.zeros((size, size), np.uint8), {}
        image = clean
        if is_defect[i]:
            kind = options["defect_kinds"][int(rng.integers(len(options["defect_kinds"])))]
            other_name = names[(i + 1) % len(names)] if len(names) > 1 else texture_name
            # Rotate the crop, not the texture: the fill stays inside this split's band.
            other = _resize(np.rot90(textures[other_name][y:y + CROP, x:x + CROP]).copy(), size)
            image, mask = make_defect(clean, kind, rng, other)
            if kind == "blob":
                extra = {"donor": [other_name, x, y, CROP]}
        images.append(image)
        masks.append(mask)
        labels.append(int(is_defect[i]))
        ids.append(f"{name}/{texture_name}/{i:05d}")
        meta.append({"texture": texture_name, "defect": kind, "crop": [x, y, CROP], **extra})
    stack = np.stack(images)[..., None]
    if options["channels"] == 3:
        stack = np.repeat(stack, 3, axis=-1)
    return Split(stack, np.asarray(labels, np.int64), tuple(ids), np.stack(masks), np.ones(n, bool), tuple(meta))


def synthetic_defects(image_size: int = 64, **options: Any):
    """Build the dataset; see the module docstring. Raises HarnessError on bad options."""
    from harness import Dataset, HarnessError

    problems = check({"image_size": image_size, **options})
    if problems:
        raise HarnessError("; ".join(f"{k}: {m}" for k, m in problems))
    opts = {**DEFAULTS, **options}
    rng = np.random.default_rng(opts["seed"])
    textures = {name: _texture(name) for name in set(opts["textures"])}
    splits = {name: _split(name, opts[f"n_{name}"], image_size, opts, textures, rng) for name in BANDS}
    return Dataset(("normal", "defect"), splits["train"], splits["val"], splits["test"],
                   fingerprint({"image_size": image_size, **options}))


def fingerprint(options: dict[str, Any]) -> str:
    """The fingerprint of the dataset these options build, without building it.

    The data are a pure function of the options and the generator version, so a hash of
    both identifies them.
    """
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if k not in ("image_size", "plugin")}}
    image_size = options.get("image_size", 64)
    text = json.dumps({"v": GENERATOR_VERSION, "image_size": image_size, **opts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
