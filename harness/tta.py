"""Test-time augmentation: every view of a batch in one forward pass, stored per view.

The TTA registry holds two kinds of entries, told apart by the ``kind`` attribute of
what their factory returns:

* a **view** (``kind == "view"``) is callable on float images ``[B, C, H, W]`` in
  ``[0, 255]`` and returns ``[n * B, C, H, W]`` (``n`` copies, block after block; its
  ``forwards`` attribute is ``n``, 1 when absent). A view with ``n > 1`` (five crops)
  is stored as one view: its ``n`` probabilities are averaged;
* a **merge** (``kind == "merge"``) maps per-view probabilities ``[V, N, K]`` to
  ``[N, K]``.

``tta_<split>.npz`` in a cell folder holds ``views`` (names), ``proba`` ``[V, N, K]``,
``sample_ids`` and ``seconds`` (wall time of the batched inference).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import HarnessError
from harness.store import atomic_save_npz

if TYPE_CHECKING:
    import torch


def resolve(name: str, kind: str, registries: dict[str, Any]) -> Any:
    """Build the TTA entry ``name`` and check it is a ``kind`` (``"view"`` or ``"merge"``)."""
    registry = registries["tta"]
    if name not in registry:
        raise HarnessError(registry.unknown_message(name))
    entry = registry.get(name)()
    found = getattr(entry, "kind", None)
    if found != kind:
        raise HarnessError(f"TTA entry {name!r} is a {found or 'thing of unknown kind'}, not a {kind}")
    return entry


def check_tta(tta: dict[str, Any], registry: Any) -> list[tuple[str, str]]:
    """Problems of a ``[tta]`` table beyond unknown names, as ``(key, message)`` pairs.

    A view listed under ``merge`` (or a merge under ``views``) and a search without
    ``identity`` (its starting point) are caught here, before anything trains.
    """
    problems = []
    for key, kind in (("views", "view"), ("merge", "merge")):
        names = tta.get(key, [])
        for name in [names] if isinstance(names, str) else names:
            if name in registry:
                found = getattr(registry.get(name)(), "kind", None)
                if found != kind:
                    problems.append((key, f"{name!r} is a TTA {found or 'entry of unknown kind'}, not a {kind}"))
    if tta.get("search") and "identity" not in tta.get("views", []):
        problems.append(("views", 'the search starts from "identity": add it to views'))
    if tta.get("search") and "val" not in tta.get("splits", ["val"]):
        problems.append(("splits", 'the search chooses views on validation: add "val" to splits'))
    return problems


def forwards(views: list[Any]) -> int:
    """Images the model sees per input image for these views (the cost multiplier)."""
    return sum(int(getattr(v, "forwards", 1)) for v in views)


@dataclass(frozen=True)
class TTAViews:
    """Stored per-view probabilities of one split."""

    views: tuple[str, ...]
    proba: np.ndarray  # [V, N, K]
    sample_ids: tuple[str, ...]
    seconds: float = float("nan")

    def select(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """``[len(names), N, K]`` probabilities of the named views."""
        missing = [n for n in names if n not in self.views]
        if missing:
            raise HarnessError(f"views {missing} were not stored (stored: {', '.join(self.views)}); "
                               "rerun the cells with --fresh to store them")
        return self.proba[[self.views.index(n) for n in names]]


def tta_path(cell_dir: Path, split: str) -> Path:
    return Path(cell_dir) / f"tta_{split}.npz"


def save_tta(cell_dir: Path, split: str, views: list[str], proba: np.ndarray, sample_ids: tuple[str, ...],
             seconds: float = float("nan")) -> None:
    """Write ``tta_<split>.npz`` atomically."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape[:2] != (len(views), len(sample_ids)):
        raise HarnessError(f"TTA probabilities of shape {proba.shape} do not fit {len(views)} views x "
                           f"{len(sample_ids)} samples")
    atomic_save_npz(tta_path(cell_dir, split), views=np.asarray(views), proba=proba,
                    sample_ids=np.asarray(sample_ids), seconds=np.float64(seconds))


def load_tta(cell_dir: Path, split: str) -> TTAViews:
    """Read ``tta_<split>.npz``; a missing file is a :class:`HarnessError`."""
    path = tta_path(cell_dir, split)
    if not path.exists():
        raise HarnessError(f"{path}: no stored TTA predictions for split {split!r}")
    with np.load(path, allow_pickle=False) as data:
        seconds = float(data["seconds"]) if "seconds" in data.files else float("nan")
        return TTAViews(tuple(str(v) for v in data["views"]), data["proba"].astype(np.float64),
                        tuple(str(s) for s in data["sample_ids"]), seconds)


def _forward_probs(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    import torch

    from harness.model import Batch, split_outputs
    from harness.train.evaluate import forward

    batch = Batch(images, labels, None, None, training=False, epoch=0, num_epochs=1, progress=1.0)
    logits, _ = split_outputs(forward(model, batch))
    return torch.softmax(logits.float(), dim=1)


def predict_views(model: torch.nn.Module, images_uint8: torch.Tensor, views: list[str],
                  normalize: Callable[[torch.Tensor], torch.Tensor], batch_size: int, device: torch.device,
                  registries: dict[str, Any], labels: torch.Tensor | None = None) -> np.ndarray:
    """Per-view class probabilities, every view of a mini-batch in one forward pass.

    Args:
        model: the trained model (put in eval mode here).
        images_uint8: ``[N, 3, H, W]`` uint8 images (tensor or array).
        views: names of registered TTA views.
        normalize: uint8-range float images to the model's input (``Normalizer``).
        batch_size: input images per step; a forward pass holds ``batch_size`` times
            the views' total forwards.
        device: where the model lives.
        registries: the plugin registries (``"tta"`` is used).
        labels: ``[N]`` labels handed to ``forward_batch`` models, zeros when None.

    Returns:
        ``[V, N, K]`` float64 probabilities, one slice per view in ``views`` order.
    """
    import torch

    built = [resolve(name, "view", registries) for name in views]
    images_uint8 = torch.as_tensor(images_uint8)
    if batch_size < 1:
        raise HarnessError(f"batch_size must be >= 1, got {batch_size}")
    labels = torch.zeros(len(images_uint8), dtype=torch.int64) if labels is None else labels
    model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(images_uint8), batch_size):
            x = images_uint8[start:start + batch_size].to(device).float()  # [B, 3, H, W] in [0, 255]
            b = x.shape[0]
            stacked = torch.cat([view(x) for view in built])  # [F * B, 3, H, W]
            y = labels[start:start + b].to(device).repeat(stacked.shape[0] // b)
            probs = _forward_probs(model, normalize(stacked), y).double().cpu()  # [F * B, K]
            per_view, offset = [], 0
            for view in built:
                n = int(getattr(view, "forwards", 1))
                per_view.append(probs[offset:offset + n * b].view(n, b, -1).mean(dim=0))
                offset += n * b
            parts.append(torch.stack(per_view))  # [V, B, K]
    return torch.cat(parts, dim=1).numpy()


def store_tta(model: torch.nn.Module, data: Any, cell_dir: Path, split: str, views: list[str], *,
              normalize: Callable[[torch.Tensor], torch.Tensor], batch_size: int, device: torch.device,
              registries: dict[str, Any]) -> float:
    """Predict every view of a split (``SplitTensors``) and write ``tta_<split>.npz``.

    Returns:
        Seconds the batched inference took.
    """
    started = time.perf_counter()
    proba = predict_views(model, data.images, list(views), normalize, batch_size, device, registries,
                          labels=data.labels)
    seconds = time.perf_counter() - started
    save_tta(cell_dir, split, list(views), proba, tuple(data.sample_ids), seconds)
    return seconds
