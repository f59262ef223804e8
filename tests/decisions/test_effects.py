"""Ablation effects: the hierarchical bootstrap, the power estimate, and the embedded ablation in Chromium."""

from __future__ import annotations

import base64
import json
import math
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from harness.stats.effects import (
    Z_ALPHA,
    Z_POWER,
    RowVariance,
    hierarchical_means,
    level_effect,
    per_seed_values,
    row_variance,
    seeds_to_separate,
)
from harness.stats.resample import Resampler
from harness.stats.samples import SampleSet

from .conftest import probabilities

CLASSES = ("normal", "defect")


def _row(labels: np.ndarray, skills: list[float], seed: int) -> SampleSet:
    rng = np.random.default_rng(seed)
    ids = tuple(f"t{i:03d}" for i in range(len(labels)))
    return SampleSet(CLASSES, ids, labels, np.stack([probabilities(labels, s, rng) for s in skills]),
                     tuple(range(len(skills))))


def test_effect_is_the_difference_of_displayed_means_with_a_hierarchical_interval() -> None:
    labels = np.arange(120) % 2
    ref, better = _row(labels, [0.5, 0.7], 1), _row(labels, [2.0, 2.4], 2)
    resampler = Resampler(labels, 400, 0)
    values = {"ref": per_seed_values(ref, resampler, "auroc"), "new": per_seed_values(better, resampler, "auroc")}
    shown = {k: np.mean([roc_auc_score(labels, p[:, 1]) for p in s.proba]) for k, s in (("ref", ref), ("new", better))}
    np.testing.assert_allclose(values["ref"][0], [roc_auc_score(labels, p[:, 1]) for p in ref.proba], atol=1e-12)
    variances = {k: row_variance(*v) for k, v in values.items()}
    effect = level_effect("new", [("ref", "new")], values, variances, seed=0)
    assert effect.effect == pytest.approx(shown["new"] - shown["ref"], abs=1e-12)
    assert effect.low <= effect.effect <= effect.high and effect.separated and effect.seeds_needed is None
    # seeds add spread: the hierarchical interval is wider than the test-sampling one alone
    test_only = np.percentile(values["new"][1].mean(axis=0) - values["ref"][1].mean(axis=0), [2.5, 97.5])
    assert effect.high - effect.low > test_only[1] - test_only[0]


def test_hierarchical_means_draw_seeds_with_replacement() -> None:
    resampled = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # seed 0 scores 0, seed 1 scores 1, 3 rounds
    means = hierarchical_means(resampled, np.random.default_rng(0))
    assert set(means.tolist()) <= {0.0, 0.5, 1.0}
    draws = np.random.default_rng(0).integers(0, 2, size=(3, 2))
    np.testing.assert_allclose(means, draws.mean(axis=1))


def test_variance_shares_and_seeds_needed_by_hand() -> None:
    v = row_variance(np.array([0.70, 0.80]), np.array([[0.69, 0.71, 0.70], [0.79, 0.80, 0.81]]))
    assert v.per_seed_var == pytest.approx(0.005) and v.seed_var == pytest.approx(0.0025)
    assert v.test_var == pytest.approx(np.var([0.74, 0.755, 0.755]))
    assert v.seed_share == pytest.approx(0.0025 / (0.0025 + v.test_var))
    a = RowVariance(0.0025, 1e-4, 0.005, 2)
    b = RowVariance(0.0025, 1e-4, 0.005, 2)
    # (|d| / (z_a + z_b))^2 - v_test = budget; seeds = ceil((s_a^2 + s_b^2) / budget)
    budget = (0.05 / (Z_ALPHA + Z_POWER)) ** 2 - 1e-4
    assert seeds_to_separate(0.05, a, b, 1e-4) == math.ceil(0.01 / budget)
    assert seeds_to_separate(0.01, a, b, 1e-4) is None  # the test set alone is too noisy: more seeds never suffice
    assert seeds_to_separate(0.05, RowVariance(math.nan, 1e-4, math.nan, 1), b, 1e-4) is None


MINI_ABLATION = """
[experiment]
name = "mini-ablation"
seeds = [0, 1]
rank_by = "test.auroc"
effects = ["model.strategy"]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 48
n_val = 32
n_test = 48

[train]
epochs = 1
batch_size = 16
optimizer = { name = "adam", lr = 2e-3 }
map_size = 8

[[matrix.model]]
plugin = "gain-mtl"
strategy = ["S1", "S2", "S3", "S4", "S5", "S6"]
backbone = "resnet10t"
fpn_channels = 8
hidden = 16
head_channels = 8
"""


@pytest.fixture(scope="module")
def ablation(tmp_path_factory) -> Path:
    """The embedded ablation's S1-S6 matrix, shrunk to seconds per cell."""
    tmp = tmp_path_factory.mktemp("ablation")
    (tmp / "mini.toml").write_text(textwrap.dedent(MINI_ABLATION).lstrip())
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "mini.toml", "--runs-dir", "runs",
                           "--leaderboards-dir", "lb", "--no-progress"], cwd=tmp, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return tmp / "lb" / "mini-ablation"


@pytest.mark.slow
def test_embedded_ablation_effects_of_s2_to_s6_against_s1(ablation: Path) -> None:
    (axis,) = json.loads((ablation / "results.json").read_text())["decisions"]["effects"]
    assert (axis["axis"], axis["reference"], axis["metric"]) == ("model.strategy", "S1", "test.auroc")
    assert [e["level"] for e in axis["effects"]] == ["S2", "S3", "S4", "S5", "S6"]
    rows = json.loads((ablation / "results.json").read_text())["rows"]
    means = {r["row"]: r["metrics"]["test.auroc"]["mean"] for r in rows}
    for e in axis["effects"]:
        assert e["pairs"] == [["gain-mtl strategy=S1", f"gain-mtl strategy={e['level']}"]]
        assert e["effect"] == pytest.approx(means[e["pairs"][0][1]] - means[e["pairs"][0][0]], abs=1e-9)
        assert e["low"] is not None and e["low"] <= e["effect"] <= e["high"]
    assert {r["level"] for r in axis["rows"]} == {"S1", "S2", "S3", "S4", "S5", "S6"}
    assert all(r["n_seeds"] == 2 and r["seed_var"] is not None for r in axis["rows"])
    html = (ablation / "index.html").read_text()
    assert 'class="forest"' in html and "what each model.strategy adds over S1" in html


@pytest.mark.slow
def test_forest_plot_renders_in_chromium(ablation: Path, tmp_path: Path) -> None:
    from leaderboard.test_browser import CHROMIUM, _errors, start_chromium, stop_chromium

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    tools = start_chromium(tmp_path / "profile")
    try:
        for domain in ("Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable")
        tools.call("Page.navigate", url=(ablation / "index.html").resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        box = tools.evaluate(
            "(() => { const i = document.querySelector('figure.forest img'); i.scrollIntoView({block: 'center'});"
            " const r = i.getBoundingClientRect(); return [i.complete, i.naturalWidth, i.naturalHeight,"
            " r.x + window.scrollX, r.y + window.scrollY, r.width, r.height]; })()"
        )
        complete, natural_w, natural_h, x, y, w, h = box
        assert complete and natural_w > 300 and natural_h > 150 and w > 200 and h > 100
        clip = {"x": x, "y": y, "width": w, "height": h, "scale": 1}  # page coordinates
        shot = base64.b64decode(tools.call("Page.captureScreenshot", format="png", clip=clip)["data"])
        (tmp_path / "forest.png").write_bytes(shot)
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack("!II", shot[16:24])
        assert (width, height) == (round(w), round(h))
        pixels = _decode(shot)
        assert pixels.std() > 10  # drawn marks on a white background, not a blank box
        tools.call("Runtime.evaluate", expression="1")
        assert _errors(tools.events) == []
    finally:
        stop_chromium(tools)


def _decode(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
