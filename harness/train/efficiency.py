"""Cost of a trained model: parameters, multiply-accumulates and latency per image."""

from __future__ import annotations

import time

import torch

from harness.model import split_outputs


@torch.no_grad()
def gmacs_per_image(model: torch.nn.Module, image: torch.Tensor) -> float:
    """Giga multiply-accumulates of one forward pass on ``image`` (``[1, 3, H, W]``)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        split_outputs(model(image))
    return counter.get_total_flops() / 2 / 1e9


@torch.no_grad()
def latency_ms(model: torch.nn.Module, images: torch.Tensor, repeats: int = 8) -> float:
    """Median milliseconds of a batch-1 forward pass, after one warm-up pass."""
    model.eval()
    model(images[:1])
    times = []
    for i in range(repeats):
        one = images[i % len(images)][None]
        started = time.perf_counter()
        model(one)
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2] * 1000.0
