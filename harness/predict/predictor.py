"""``harness.Predictor``: a stored row run on new images, nothing written.

    predictor = harness.Predictor.from_run("runs/smoke", row="timm arch=convnext_atto")
    for p in predictor.predict(["a.png", "b.png"], batch_size=32):
        print(p.path, p.pred_class, p.confidence, p.error)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.predict.inputs import Item, as_items, decode_item, why_unreadable

ERROR = "ERROR"


@dataclass(frozen=True)
class Prediction:
    """What a row says about one input.

    Attributes:
        path: the file as given, or ``<image i>`` for an in-memory image.
        pred_class: the most probable class, or ``"ERROR"`` when the input failed.
        confidence: that class's probability (None on error).
        probabilities: class name to probability (empty on error).
        score: the anomaly score of rows that have one, else None.
        maps: map name to ``[S, S]`` float32 (attention, CAM...), when asked and the
            model makes them; else empty.
        latency_ms: this input's share of the work: its decoding plus its share of its batch's forward pass.
        error: why the input failed (missing, unreadable, not an image), else None.
    """

    path: str
    pred_class: str
    confidence: float | None
    probabilities: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    latency_ms: float = float("nan")
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Predictor:
    """A trained row, ready to predict: one model, a TTA row or an ensemble.

    Build it with :meth:`from_run`. ``classes`` are the row's class names in label order.
    """

    def __init__(self, node: Any, record: Any, registries: dict[str, Any]):
        self.node = node
        self.record = record
        self.registries = registries
        self._threads: ThreadPoolExecutor | None = None

    @classmethod
    def from_run(cls, source: str | Path, row: str | None = None, *, seed: int | str | None = None,
                 config: str | Path | dict[str, Any] | None = None, device: str = "cpu",
                 plugins: Any = None) -> Predictor:
        """Load a stored row.

        Args:
            source: a run folder (``runs/ablation``), a cell or derived-row folder, a
                leaderboard folder (its ``results.json`` points at the run), or a
                ``checkpoint.safetensors`` file.
            row: the row label (``"gain-mtl strategy=S4"``, ``"ensemble stack"``) or a
                cell id; a leaderboard's top row when omitted, and optional when the run
                holds one row.
            seed: which seed of a multi-seed row (default: the lowest).
            config: with a checkpoint file: its ``config.json`` path or dict (default:
                the file beside it).
            device: ``"cpu"``, ``"cuda"``, ...
            plugins: a :func:`harness.plugins.build_plugins` result to reuse.

        Raises:
            HarnessError: nothing finished matches, or the checkpoint does not fit.
        """
        import torch

        from harness.predict.nodes import build_node
        from harness.predict.source import resolve_source

        if plugins is None:
            from harness.plugins import build_plugins

            plugins = build_plugins()
        record, run_root = resolve_source(source, row, seed, config)
        node = build_node(record, run_root, plugins.registries, torch.device(device))
        return cls(node, record, plugins.registries)

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:  # one thread: it decodes the next batch while the model runs this one
            self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-decode")
        return self._threads

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.node.classes)

    @property
    def row(self) -> str:
        return self.record.row

    @property
    def image_size(self) -> int:
        """Input side of the (first) model, in pixels."""
        return self.node.models()[0].image_size

    def _with_tta(self, tta: Any) -> Any:
        from harness.predict.nodes import ModelNode, TTANode

        if tta is None or tta is False:
            return self.node
        spec = {"views": list(tta)} if isinstance(tta, list | tuple) else dict(tta)
        base = self.node.source if isinstance(self.node, TTANode) else self.node
        if not isinstance(base, ModelNode):
            raise HarnessError("tta= applies to single-model rows; an ensemble's members run as they were stored")
        return TTANode(base, spec["views"], spec.get("merge", "mean"), self.registries)

    def predict(self, inputs: Any, batch_size: int = 32, tta: Any = None, return_maps: bool = False,
                progress: Callable[[int], None] | None = None) -> list[Prediction]:
        """Predict every input; a bad input gives an ``ERROR`` item and the rest go on.

        Args:
            inputs: a path, numpy image (``[H, W]``, ``[H, W, 3]``, uint8 or 0-1 floats),
                PIL image, or a list of them; resized exactly as the row's dataset cache.
            batch_size: images per forward pass.
            tta: None (the row as stored), a list of view names (merged by ``mean``), or
                ``{"views": [...], "merge": "gmean"}``.
            return_maps: also return the model's maps (single-model rows).
            progress: called with the number of inputs finished after each batch.

        Returns:
            One :class:`Prediction` per input, in order. Nothing is written anywhere.
        """
        if batch_size < 1:
            raise HarnessError(f"batch_size must be >= 1, got {batch_size}")
        node = self._with_tta(tta)
        items = as_items(inputs)
        keys = sorted(node.keys)
        chunks = [items[start:start + batch_size] for start in range(0, len(items), batch_size)]
        pool = self._pool()
        out: list[Prediction] = []
        # the next batch decodes on the pool (Pillow releases the GIL) while this one runs through the model
        pending = pool.submit(_decode_batch, chunks[0], keys) if chunks else None
        for n, chunk in enumerate(chunks):
            decoded = pending.result()
            pending = pool.submit(_decode_batch, chunks[n + 1], keys) if n + 1 < len(chunks) else None
            out += self._batch(node, chunk, keys, decoded, return_maps)
            if progress is not None:
                progress(len(chunk))
        return out

    def _batch(self, node: Any, items: list[Item], keys: list[Any], decoded_batch: Decoded,
               return_maps: bool) -> list[Prediction]:
        import torch

        from harness.predict.nodes import ModelNode

        decoded, errors, seconds = decoded_batch
        good = [i for i in range(len(items)) if i in decoded]
        proba = np.zeros((0, len(self.classes)))
        maps: dict[str, np.ndarray] = {}
        scores = None
        share = 0.0
        if good:
            batches = {key: torch.from_numpy(np.stack([decoded[i][key] for i in good])).permute(0, 3, 1, 2)
                       for key in keys}  # [B, 3, S, S] uint8
            t0 = time.perf_counter()
            if isinstance(node, ModelNode):
                proba, maps, scores = node.outputs(batches, want_maps=return_maps)
            else:
                proba = node.proba(batches)
            share = (time.perf_counter() - t0) / len(good)
        results = []
        row_of = {i: r for r, i in enumerate(good)}
        for i, item in enumerate(items):
            latency = 1000.0 * (seconds[i] + (share if i in row_of else 0.0))
            if i in errors:
                results.append(Prediction(item.name, ERROR, None, latency_ms=latency, error=errors[i]))
                continue
            p = proba[row_of[i]]
            k = int(np.argmax(p))
            results.append(Prediction(item.name, self.classes[k], float(p[k]),
                                      {c: float(v) for c, v in zip(self.classes, p)},
                                      score=float(scores[row_of[i]]) if scores is not None else None,
                                      maps={name: m[row_of[i]].astype(np.float32) for name, m in maps.items()},
                                      latency_ms=latency))
        return results


Decoded = tuple[dict[int, dict[Any, np.ndarray]], dict[int, str], dict[int, float]]


def _decode_batch(items: list[Item], keys: list[Any]) -> Decoded:
    """Every item at every input size the row needs: arrays, errors and seconds, by position."""
    decoded: dict[int, dict[Any, np.ndarray]] = {}
    errors: dict[int, str] = {}
    seconds: dict[int, float] = {}

    def decode(i: int) -> None:
        t0 = time.perf_counter()
        try:
            decoded[i] = {key: decode_item(items[i], *key) for key in keys}
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types; the item says why
            errors[i] = why_unreadable(items[i], exc)
        seconds[i] = time.perf_counter() - t0

    for i in range(len(items)):
        decode(i)
    return decoded, errors, seconds
