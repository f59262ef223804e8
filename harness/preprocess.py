"""How images become a model's input: normalisation constants, resize method and crop.

Every cell records its preprocessing in ``config.json`` under ``"preprocessing"``::

    {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic",
     "crop_pct": 0.875, "input_size": [3, 64, 64]}

``mean`` and ``std`` are on the 0-1 scale (as timm's ``pretrained_cfg``). The values come
from the model: a model plugin declares them when it registers
(``registry.register(name, factory, preprocessing=fn)``, ``fn(options) -> Preprocessing``;
the ``timm`` plugin reads timm's pretrained config of the architecture). A model that
declares nothing gets ImageNet mean/std, bilinear resizing and no crop, which is also
what a cell written before this record existed used.

Training, evaluation and test-time augmentation apply the same record: images are
normalised with ``mean``/``std`` everywhere; at evaluation (validation, test, TTA) a
``crop_pct`` below 1 keeps the centre ``crop_pct`` of each image (and of its mask) and
resizes it back to the input size with ``interpolation``, the way timm evaluates; the
random resized crop of training augmentation uses ``interpolation`` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TORCH_MODES = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest", "area": "area", "box": "area",
               "lanczos": "bicubic", "hamming": "bilinear"}
"""Interpolation names (timm's and PIL's) to the closest ``torch.nn.functional.interpolate`` mode."""


def _triple(value: Any, key: str) -> tuple[float, float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,) * 3
    if not (isinstance(value, Sequence) and len(value) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise HarnessError(f"preprocessing.{key}: must be three numbers (red, green, blue), got {value!r}")
    return tuple(float(v) for v in value)  # type: ignore[return-value]


@dataclass(frozen=True)
class Preprocessing:
    """Normalisation and evaluation crop of one model.

    Attributes:
        mean: per-channel mean (red, green, blue) on the 0-1 scale.
        std: per-channel standard deviation on the 0-1 scale.
        interpolation: resize method (``"bilinear"``, ``"bicubic"``, ``"nearest"``, ...).
        crop_pct: fraction of each side kept by the centre crop at evaluation; 1.0 keeps
            the whole image.
        input_size: ``(3, H, W)`` the model is fed, or None before the data is known.
    """

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"
    crop_pct: float = 1.0
    input_size: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _triple(self.mean, "mean"))
        object.__setattr__(self, "std", _triple(self.std, "std"))
        if any(s <= 0 for s in self.std):
            raise HarnessError(f"preprocessing.std: every value must be positive, got {list(self.std)}")
        if self.interpolation not in TORCH_MODES:
            raise HarnessError(f"preprocessing.interpolation: {self.interpolation!r} is not one of "
                               f"{', '.join(sorted(TORCH_MODES))}")
        if not (isinstance(self.crop_pct, (int, float)) and 0 < self.crop_pct <= 1):
            raise HarnessError(f"preprocessing.crop_pct: must be in (0, 1], got {self.crop_pct!r}")
        object.__setattr__(self, "crop_pct", float(self.crop_pct))
        if self.input_size is not None:
            object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Preprocessing:
        """The preprocessing recorded in a cell's ``config.json`` (the whole dict, or its ``"preprocessing"``).

        A config without the key (cells written before it existed) gives the ImageNet
        defaults with bilinear resizing and no crop.
        """
        record = config.get("preprocessing", config if "mean" in config else {})
        if not isinstance(record, Mapping):
            raise HarnessError(f"preprocessing: must be a table, got {type(record).__name__}")
        if "error" in record:
            raise HarnessError(f"the model's preprocessing could not be resolved: {record['error']}")
        fields = ("mean", "std", "interpolation", "crop_pct", "input_size")
        return cls(**{k: record[k] for k in fields if record.get(k) is not None})

    @classmethod
    def from_timm(cls, data_config: Mapping[str, Any]) -> Preprocessing:
        """From timm's ``resolve_model_data_config`` / ``pretrained_cfg`` dict (its input size is left out)."""
        defaults = cls()
        interpolation = data_config.get("interpolation") or defaults.interpolation
        return cls(mean=data_config.get("mean") or defaults.mean, std=data_config.get("std") or defaults.std,
                   interpolation=interpolation if interpolation in TORCH_MODES else defaults.interpolation,
                   crop_pct=float(data_config.get("crop_pct") or 1.0))

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` record (JSON types only)."""
        return {"mean": list(self.mean), "std": list(self.std), "interpolation": self.interpolation,
                "crop_pct": self.crop_pct, "input_size": list(self.input_size) if self.input_size else None}

    def with_input(self, height: int, width: int) -> Preprocessing:
        """The same preprocessing for ``[3, height, width]`` inputs."""
        return replace(self, input_size=(3, int(height), int(width)))

    @property
    def torch_mode(self) -> str:
        """The ``F.interpolate`` / ``grid_sample`` mode closest to :attr:`interpolation`."""
        return TORCH_MODES[self.interpolation]

    def normalize(self, images: torch.Tensor, *, max_value: float | None = None) -> torch.Tensor:
        """``[B, 3, H, W]`` images to the model's float input.

        Args:
            images: uint8 (0-255) or floating point on the 0-1 scale.
            max_value: the value of a full-intensity pixel (default: 255 for uint8
                images, 1 for floating point ones).

        Returns:
            float32 ``(x / max_value - mean) / std`` on the images' device.
        """
        import torch

        if max_value is None:
            max_value = 1.0 if images.dtype.is_floating_point else 255.0
        scale, shift = _affine(self.mean, self.std, str(images.device), float(max_value))
        return torch.addcmul(shift, images.float(), scale)

    def eval_crop(self, images: torch.Tensor, masks: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The centre ``crop_pct`` of uint8 images ``[N, 3, H, W]`` (and masks ``[N, H, W]``), resized back to H x W.

        Returns the inputs themselves when ``crop_pct`` is 1. A resized mask pixel is
        inside when at least half of it was.
        """
        if self.crop_pct >= 1.0:
            return images, masks
        import torch.nn.functional as F

        h, w = images.shape[-2:]
        ch, cw = max(1, round(h * self.crop_pct)), max(1, round(w * self.crop_pct))
        top, left = (h - ch) // 2, (w - cw) // 2
        window = images[..., top:top + ch, left:left + cw].float()
        kwargs = {"align_corners": False} if self.torch_mode in ("bilinear", "bicubic") else {}
        out = F.interpolate(window, size=(h, w), mode=self.torch_mode, **kwargs)
        out = out.round().clamp(0, 255).to(images.dtype)
        if masks is not None:
            m = masks[..., top:top + ch, left:left + cw][:, None].float()
            masks = (F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)[:, 0] >= 0.5).to(masks.dtype)
        return out, masks


@lru_cache(maxsize=32)
def _affine(mean: tuple[float, ...], std: tuple[float, ...], device: str, max_value: float):
    """``(scale, shift)`` with ``x * scale + shift == (x / max_value - mean) / std``, as one multiply-add."""
    import torch

    m = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    return 1.0 / (max_value * s), -m / s


def resolve_preprocessing(model_config: Mapping[str, Any], models: Any,
                          image_size: tuple[int, int] | None = None) -> Preprocessing:
    """What the model of a cell declares (ImageNet defaults when it declares nothing).

    Args:
        model_config: the cell's ``[model]`` table (``plugin`` plus the plugin's options).
        models: the models registry.
        image_size: ``(H, W)`` of the data the model is fed, recorded as ``input_size``.

    Raises:
        HarnessError: the plugin's declaration is not a :class:`Preprocessing`.
    """
    plugin = model_config.get("plugin")
    declare = models.entry(plugin).preprocessing if plugin in models else None
    options = {k: v for k, v in model_config.items() if k not in ("plugin", "name")}
    prep = declare(options) if declare is not None else Preprocessing()
    if not isinstance(prep, Preprocessing):
        raise HarnessError(f"model plugin {plugin!r} declared preprocessing as {type(prep).__name__}, "
                           "not harness.Preprocessing")
    return prep.with_input(*image_size) if image_size else prep


def with_preprocessing(config: Mapping[str, Any], models: Any, data: Any = None,
                       size: tuple[int, int] | None = None) -> dict[str, Any]:
    """A cell's config with its model's ``"preprocessing"`` record added.

    The record enters the cell's key, so a change of preprocessing reruns the cell.

    Args:
        config: the cell's resolved config (``model``, ``dataset``, ``train``, ``seed``).
        models: the models registry.
        data: the cell's :class:`harness.Dataset` (its images give ``input_size``), or
            anything else when it is not available.
        size: ``(H, W)`` of the images when ``data`` is not built (a rerun knows it
            from the dataset's cache record).

    Returns:
        a new dict; when the declaration fails, the record holds ``"error"`` instead,
        and :meth:`Preprocessing.from_config` raises it when the cell runs.
    """
    from harness.data import Dataset

    size = tuple(data.train.images.shape[1:3]) if isinstance(data, Dataset) else size
    try:
        record = resolve_preprocessing(config["model"], models, size).to_dict()  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - a plugin's failure fails its cells, not the plan
        record = {"error": f"{type(exc).__name__}: {exc}" if not isinstance(exc, HarnessError) else str(exc)}
    return {**config, "preprocessing": record}
