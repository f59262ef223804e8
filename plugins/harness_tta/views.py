"""Test-time augmentation views.

A view maps a batch of float images ``[B, C, H, W]`` with values in ``[0, 255]``
(before normalisation) to ``[n * B, C, H, W]``: ``n`` is 1 for every view here except
``five_crop``, whose five crops (four corners, then the centre, each resized back)
come crop after crop. ``five_crop`` is ONE view of the store: the core averages its
five probabilities into one ``[N, K]`` entry, and it costs five forward passes, which
the cost multiplier counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import HarnessError, TTAView


def _square(images: Any, name: str) -> None:
    if images.shape[-1] != images.shape[-2]:
        raise HarnessError(f"TTA view {name!r} needs square images, got {images.shape[-2]}x{images.shape[-1]}")


def _resize(images: Any, size: tuple[int, int]) -> Any:
    import torch.nn.functional as F

    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def _centre(size: int, crop: int) -> int:
    return int(round((size - crop) / 2.0))  # torchvision's centre_crop offset


def _crop_resized(images: Any, top: int, left: int, height: int, width: int) -> Any:
    crop = images[..., top:top + height, left:left + width]
    return _resize(crop, tuple(images.shape[-2:]))


def identity() -> TTAView:
    """The image as it is."""
    return TTAView("identity", lambda x: x)


def hflip() -> TTAView:
    """Mirror left-right."""
    return TTAView("hflip", lambda x: x.flip(-1))


def vflip() -> TTAView:
    """Mirror top-bottom."""
    return TTAView("vflip", lambda x: x.flip(-2))


def _rotation(quarter_turns: int) -> Callable[[], TTAView]:
    name = f"rot{90 * quarter_turns}"

    def factory() -> TTAView:
        def apply(x: Any) -> Any:
            if quarter_turns % 2:
                _square(x, name)
            return x.rot90(quarter_turns, dims=(-2, -1))

        return TTAView(name, apply)

    factory.__doc__ = f"Rotate {90 * quarter_turns} degrees counter-clockwise."
    return factory


rot90, rot180, rot270 = _rotation(1), _rotation(2), _rotation(3)


def scale(factor: float = 0.9) -> TTAView:
    """Zoom in: the centre ``factor`` of the image, resized back to full size."""

    def apply(x: Any) -> Any:
        h, w = x.shape[-2:]
        ch, cw = max(1, round(h * factor)), max(1, round(w * factor))
        return _crop_resized(x, _centre(h, ch), _centre(w, cw), ch, cw)

    return TTAView("scale", apply)


def brightness(factor: float = 1.1) -> TTAView:
    """Scale pixel values by ``factor``, clipped to ``[0, 255]``."""
    return TTAView("brightness", lambda x: (x * factor).clamp(0.0, 255.0))


def five_crop(crop: float = 0.875) -> TTAView:
    """Four corner crops and the centre crop of side ``crop``, each resized back."""

    def apply(x: Any) -> Any:
        import torch

        h, w = x.shape[-2:]
        ch, cw = max(1, round(h * crop)), max(1, round(w * crop))
        corners = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), (_centre(h, ch), _centre(w, cw))]
        return torch.cat([_crop_resized(x, top, left, ch, cw) for top, left in corners])

    return TTAView("five_crop", apply, forwards=5)


VIEWS: dict[str, Callable[..., TTAView]] = {
    "identity": identity, "hflip": hflip, "vflip": vflip, "rot90": rot90, "rot180": rot180, "rot270": rot270,
    "scale": scale, "brightness": brightness, "five_crop": five_crop,
}
