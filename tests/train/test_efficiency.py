"""Latency: warm and repeated, at the cell's precision, one measurement per architecture."""

from __future__ import annotations

import statistics

import pytest
import timm
import torch

from harness.train.efficiency import (
    UNSTABLE_SPREAD,
    Latency,
    architecture_fingerprint,
    clear_latency_cache,
    measure_latency,
)


@pytest.fixture(autouse=True)
def _fresh():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    clear_latency_cache()
    yield
    clear_latency_cache()
    torch.set_num_threads(before)


def _net(arch: str = "test_resnet", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(arch, pretrained=False, num_classes=2).eval()


def test_identical_architectures_share_one_measurement_and_others_do_not():
    image = torch.randn(1, 3, 32, 32)
    first = measure_latency(_net(seed=0), image, runs=3)
    again = measure_latency(_net(seed=1), image, runs=3)  # other weights, same network
    assert again is first
    assert architecture_fingerprint(_net(seed=0), image, "fp32") == first.fingerprint
    different = [
        architecture_fingerprint(_net("resnet10t"), image, "fp32"),
        architecture_fingerprint(_net(), torch.randn(1, 3, 64, 64), "fp32"),
        architecture_fingerprint(_net(), image, "bf16"),
        architecture_fingerprint(timm.create_model("test_resnet", num_classes=3), image, "fp32"),
    ]
    assert len({first.fingerprint, *different}) == 5
    assert measure_latency(_net(), image, runs=3, share=False) is not first


def test_the_median_of_several_warm_runs_is_reported():
    latency = measure_latency(_net(), torch.randn(1, 3, 32, 32), runs=5)
    assert latency.runs == 5
    assert 0 < latency.median_ms < 1000 and latency.iqr_ms >= 0
    metrics = latency.metrics()
    assert metrics == {"test.latency_ms": latency.median_ms, "test.latency_iqr_ms": latency.iqr_ms,
                       "test.latency_unstable": float(latency.unstable)}


def test_a_large_spread_is_flagged_unstable():
    times = [10.0, 10.5, 11.0, 30.0, 31.0, 9.5, 10.2]
    q = statistics.quantiles(sorted(times), n=4)
    unstable = Latency(statistics.median(times), q[2] - q[0], len(times), "x")
    assert unstable.spread > UNSTABLE_SPREAD and unstable.unstable
    assert unstable.metrics()["test.latency_unstable"] == 1.0
    steady = Latency(10.0, 0.4, 7, "y")
    assert not steady.unstable and steady.metrics()["test.latency_unstable"] == 0.0


def test_measured_at_the_configured_precision():
    model = _net()
    dtypes = []
    handle = model.fc.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    try:
        measure_latency(model, torch.randn(1, 3, 32, 32), "bf16", runs=2, warmup=1)
        assert set(dtypes) == {torch.bfloat16}
        dtypes.clear()
        measure_latency(model, torch.randn(1, 3, 32, 32), "fp32", runs=2, warmup=1)
        assert set(dtypes) == {torch.float32}
    finally:
        handle.remove()


def test_the_leaderboard_shows_the_spread_and_the_unstable_share_beside_latency():
    from harness.leaderboard.ranking.aggregate import efficiency_columns

    present = ("test.latency_unstable", "params", "test.latency_iqr_ms", "test.latency_ms")
    assert efficiency_columns(present) == ("params", "test.latency_ms", "test.latency_iqr_ms", "test.latency_unstable")
