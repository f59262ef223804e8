"""Wrong predictions per row: CSV files beside the page and a thumbnail gallery on it.

``wrong/<row-slug>_<split>.csv`` lists every wrong prediction of the row's seeds on the
split (``train`` is the fixed training subset the cells scored, at the selected epoch),
most confident first: ``sample_id, true_class, predicted_class, confidence,
seed`` (confidence is the probability of the predicted class). The gallery shows the
first of them with the thumbnails the cells stored in ``thumbs_test.npz`` (a sample's
image is the same for every seed, so any seed's thumbnail serves); those without a
thumbnail are listed by id.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.leaderboard.board import Leaderboard
from harness.leaderboard.ranking.samples import PredictionStore
from harness.store import CellRecord, Run

GALLERY_MAX = 24
WRONG_DIR = "wrong"
COLUMNS = ["sample_id", "true_class", "predicted_class", "confidence", "seed"]


def row_slug(row: str) -> str:
    """A file-name-safe, unique name of a row: readable part plus a short hash."""
    readable = re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-")[:60].strip("-") or "row"
    return f"{readable}-{hashlib.sha256(row.encode('utf-8')).hexdigest()[:6]}"


def wrong_table(store: PredictionStore, cells: Sequence[CellRecord], split: str) -> pd.DataFrame | None:
    """Every wrong prediction of the cells on ``split``, most confident first; None without predictions."""
    parts = []
    for cell in cells:
        arrays = store.arrays(cell, split)
        if arrays is None:
            continue
        ids, labels, proba = arrays
        predicted = proba.argmax(axis=1)
        wrong = np.flatnonzero(predicted != labels)
        classes = np.asarray(cell.classes, dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "sample_id": np.asarray(ids, dtype=object)[wrong],
                    "true_class": classes[labels[wrong]],
                    "predicted_class": classes[predicted[wrong]],
                    "confidence": proba[wrong, predicted[wrong]],
                    "seed": str(cell.config.get("seed", cell.id)),
                }
            )
        )
    if not parts:
        return None
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    # ties in confidence listed by id, then seed, so the file never depends on reading order
    table = table.sort_values(["sample_id", "seed"], kind="stable").sort_values(
        "confidence", ascending=False, kind="stable"
    )
    return table.reset_index(drop=True)[COLUMNS]


def wrong_files(
    leaderboard: Leaderboard, run: Run, store: PredictionStore
) -> tuple[dict[str, dict[str, str]], dict[str, pd.DataFrame], dict[str, str]]:
    """Each row's ``wrong/<slug>_<split>.csv``, for :func:`harness.leaderboard.publish.publish` to write.

    Returns:
        Row to split to path relative to the leaderboard folder, row to its test
        table, and path to the CSV text.
    """
    files: dict[str, dict[str, str]] = {}
    tables: dict[str, pd.DataFrame] = {}
    texts: dict[str, str] = {}
    for row, detail in leaderboard.details.items():
        cells = [run.cells[c] for c in detail.cells]
        for split in ("test", "val", "train"):  # train: the scored training subset (harness.train.train_eval)
            table = wrong_table(store, cells, split)
            if table is None:
                continue
            name = f"{WRONG_DIR}/{row_slug(row)}_{split}.csv"
            texts[name] = table.to_csv(index=False, float_format="%.6f", lineterminator="\n")
            files.setdefault(row, {})[split] = name
            if split == "test":
                tables[row] = table
    return files, tables, texts


def thumbnails(cells: Sequence[CellRecord]) -> dict[str, np.ndarray]:
    """Sample id to ``[h, w, C]`` uint8 thumbnail, from every cell's ``thumbs_test.npz``."""
    found: dict[str, np.ndarray] = {}
    for cell in cells:
        path = cell.path / "thumbs_test.npz"
        if not path.exists():
            continue
        with np.load(path, allow_pickle=False) as data:
            for sid, image in zip(data["sample_ids"], data["images"]):
                found.setdefault(str(sid), image)
    return found


def png_data_uri(image: np.ndarray) -> str:
    """A small uint8 image (``[h, w]``, ``[h, w, 1]`` or ``[h, w, 3]``) as a PNG data URI."""
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def gallery(table: pd.DataFrame | None, thumbs: dict[str, np.ndarray], limit: int = GALLERY_MAX) -> dict[str, Any]:
    """What the page shows of a row's wrong test predictions.

    Returns:
        ``total`` (wrong predictions over all seeds), ``items`` (the first ``limit``
        with a thumbnail: sample id, classes, confidence, seed, ``uri``) and
        ``unseen`` (those of the first ``limit`` without a thumbnail).
    """
    if table is None:
        return {"total": 0, "items": [], "unseen": []}
    items, unseen = [], []
    uris: dict[str, str] = {}  # a sample wrong under several seeds is encoded once
    for line in table.head(limit).itertuples(index=False):
        entry = {
            "sample_id": str(line.sample_id),
            "true_class": str(line.true_class),
            "predicted_class": str(line.predicted_class),
            "confidence": float(line.confidence),
            "seed": str(line.seed),
        }
        if entry["sample_id"] in thumbs:
            sid = entry["sample_id"]
            uris.setdefault(sid, png_data_uri(thumbs[sid]))
            items.append({**entry, "uri": uris[sid]})
        else:
            unseen.append(entry)
    return {"total": len(table), "items": items, "unseen": unseen}
