"""Predictions as a table (CSV or JSON lines) and maps as overlay images."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.predict.predictor import Prediction


def columns(classes: Sequence[str], with_truth: bool = False) -> list[str]:
    return ["path", *(["true_class"] if with_truth else []), "pred_class", "confidence",
            *(f"prob_{c}" for c in classes), "score", "latency_ms", "error"]


def record(p: Prediction, classes: Sequence[str], truth: str | None = None) -> dict[str, Any]:
    """One output row; empty (None) fields where the input failed or the row has no score."""
    out: dict[str, Any] = {"path": p.path, **({"true_class": truth} if truth is not None else {}),
                           "pred_class": p.pred_class, "confidence": p.confidence}
    for c in classes:
        out[f"prob_{c}"] = p.probabilities.get(c)
    out.update({"score": p.score, "latency_ms": round(p.latency_ms, 4) if math.isfinite(p.latency_ms) else None,
                "error": p.error})
    return out


def render(predictions: Sequence[Prediction], classes: Sequence[str], fmt: str,
           truth: Sequence[str] | None = None) -> str:
    """The whole table as text: ``"csv"`` (probabilities at full precision) or ``"jsonl"``.

    ``truth``: each input's true class, when known (a dataset split), as a ``true_class`` column.
    """
    rows = [record(p, classes, None if truth is None else truth[i]) for i, p in enumerate(predictions)]
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(classes, truth is not None), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else (repr(v) if isinstance(v, float) else v)) for k, v in r.items()})
    return buf.getvalue()


def _safe_name(path: str, index: int) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem)[:60] or "image"
    return f"{index:05d}_{stem}"


def write_overlays(predictions: Sequence[Prediction], images: dict[int, np.ndarray], folder: Path) -> int:
    """One PNG per (input, map): the map in red over the input image, written atomically.

    Args:
        predictions: the predictions, with maps.
        images: input index to its ``[S, S, 3]`` uint8 image as the model saw it.
        folder: created if needed.

    Returns:
        How many files were written.
    """
    from PIL import Image

    from harness.store import atomic_write_bytes

    written = 0
    for i, p in enumerate(predictions):
        if not p.ok or i not in images:
            continue
        for name, value in p.maps.items():
            heat = np.asarray(value, dtype=np.float32)
            span = float(heat.max() - heat.min())
            heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
            base = images[i].astype(np.float32)
            red = np.zeros_like(base)
            red[..., 0] = 255.0
            blended = base * (1 - 0.5 * heat[..., None]) + red * (0.5 * heat[..., None])
            buf = io.BytesIO()
            Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8)).save(buf, format="PNG")
            atomic_write_bytes(folder / f"{_safe_name(p.path, i)}_{re.sub(r'[^A-Za-z0-9_-]+', '_', name)}.png",
                               buf.getvalue())
            written += 1
    return written
