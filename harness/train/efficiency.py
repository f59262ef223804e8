"""Cost of a trained model: parameters, multiply-accumulates and latency per image.

Latency is measured in a warm, repeated phase: a few warm-up passes, then several timed
runs of batch-1 forward passes, each run bracketed by ``torch.cuda.synchronize`` on a GPU
(so its queued kernels are counted, not just their launch), under the cell's precision.
The median run is the latency; the spread of the runs (interquartile range over median)
flags a measurement disturbed by other work. Architectures that are identical (same
modules, same tensor shapes) at the same input, device and precision share one
measurement within a process, so rows of one network do not differ by timing noise.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from dataclasses import dataclass

import torch

from harness.model import split_outputs

UNSTABLE_SPREAD = 0.25
"""Interquartile range over median above which a latency is flagged unstable."""

WARMUP = 3
RUNS = 7
RUN_SECONDS = 0.02  # each timed run repeats the forward pass until it lasts about this long

_MEASURED: dict[str, Latency] = {}


@dataclass(frozen=True)
class Latency:
    """One latency measurement.

    Attributes:
        median_ms: median over the runs of the mean milliseconds per batch-1 forward pass.
        iqr_ms: interquartile range of the runs, in milliseconds.
        runs: timed runs.
        fingerprint: the architecture/input/precision key the measurement is shared under.
    """

    median_ms: float
    iqr_ms: float
    runs: int
    fingerprint: str

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else float("inf")

    @property
    def unstable(self) -> bool:
        """The runs disagree by more than :data:`UNSTABLE_SPREAD`: other work disturbed them."""
        return self.spread > UNSTABLE_SPREAD

    def metrics(self, prefix: str = "test.") -> dict[str, float]:
        """``latency_ms``, ``latency_iqr_ms`` and ``latency_unstable`` (1.0 or 0.0) for ``metrics.json``."""
        return {f"{prefix}latency_ms": self.median_ms, f"{prefix}latency_iqr_ms": self.iqr_ms,
                f"{prefix}latency_unstable": float(self.unstable)}


@torch.no_grad()
def gmacs_per_image(model: torch.nn.Module, image: torch.Tensor) -> float:
    """Giga multiply-accumulates of one forward pass on ``image`` (``[1, 3, H, W]``)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        split_outputs(model(image))
    return counter.get_total_flops() / 2 / 1e9


def architecture_fingerprint(model: torch.nn.Module, image: torch.Tensor, precision: str) -> str:
    """A key equal for identical architectures at the same input shape, device and precision.

    The module tree's printed form (layer types and their settings) plus every parameter's
    and buffer's name, shape and dtype; the values of the weights are left out.
    """
    h = hashlib.sha256()
    h.update(f"{type(model).__module__}.{type(model).__qualname__}\n{model!r}\n".encode())
    for name, tensor in model.state_dict().items():
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}\n".encode())
    h.update(f"input:{tuple(image.shape[1:])}:{image.dtype}:{image.device.type}:{precision}".encode())
    return h.hexdigest()[:16]


def clear_latency_cache() -> None:
    """Forget shared measurements (a new benchmark phase, or tests)."""
    _MEASURED.clear()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_run(once, number: int, device: torch.device) -> float:
    """Mean milliseconds per call over ``number`` calls, the device idle before and after."""
    _sync(device)
    started = time.perf_counter()
    for _ in range(number):
        once()
    _sync(device)
    return (time.perf_counter() - started) * 1000.0 / number


@torch.no_grad()
def measure_latency(model: torch.nn.Module, image: torch.Tensor, precision: str = "fp32", *,
                    runs: int = RUNS, warmup: int = WARMUP, share: bool = True) -> Latency:
    """Latency of a batch-1 forward pass on ``image``, measured warm and repeated.

    Args:
        model: the model (put in eval mode here).
        image: ``[1, 3, H, W]`` normalised input on the model's device.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``: the forward runs under that autocast.
        runs: timed runs; the median is reported.
        warmup: untimed passes first (allocator, cuDNN autotuning, caches).
        share: reuse an earlier measurement of an identical architecture (see
            :func:`architecture_fingerprint`) made in this process.

    Returns:
        a :class:`Latency`.
    """
    from harness.train.loop import autocast

    model.eval()
    image = image[:1]
    key = architecture_fingerprint(model, image, precision)
    if share and key in _MEASURED:
        return _MEASURED[key]

    def once() -> None:
        with autocast(image.device, precision):
            split_outputs(model(image))

    for _ in range(warmup):
        once()
    _sync(image.device)
    started = time.perf_counter()
    once()
    _sync(image.device)
    number = max(1, int(RUN_SECONDS / max(time.perf_counter() - started, 1e-6)))
    times = sorted(_timed_run(once, number, image.device) for _ in range(runs))
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    result = Latency(statistics.median(times), quartiles[2] - quartiles[0], len(times), key)
    if share:
        _MEASURED[key] = result
    return result


def latency_ms(model: torch.nn.Module, images: torch.Tensor, precision: str = "fp32") -> float:
    """Median milliseconds of a batch-1 forward pass (see :func:`measure_latency`)."""
    return measure_latency(model, images[:1], precision).median_ms
