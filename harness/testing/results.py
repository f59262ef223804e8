"""Contract checks for what works on a model's outputs: metrics, ensembles, TTA views and merges, trackers."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.plugins import Plugins
from harness.testing.training import _options


def check_metric(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """A metric function returns a dict of floats for a small prediction set."""
    from harness.predictions import PredictionSet

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=12)
    pred = PredictionSet(("a", "b", "c"), tuple(str(i) for i in range(12)), np.arange(12) % 3, proba)
    values = plugins.registry("metrics").get(name)(pred)
    assert isinstance(values, dict), f"{name}: returned {type(values).__name__}"
    for key, value in values.items():
        assert isinstance(key, str) and isinstance(float(value), float), f"{name}: {key}={value!r}"


def check_ensemble(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """An ensemble is a :class:`harness.Ensemble` subclass that fits and predicts stored probabilities.

    Checks: ``source`` is ``"cells"``, ``"folds"`` or ``"snapshots"``; ``cls(**options)``
    fits ``[M, N, K]`` probabilities and returns itself; ``predict_proba`` gives ``[N, K]``
    finite, non-negative rows summing to one, the same for the same input; ``predict``
    is its argmax; ``weights_`` is None or ``[M]`` non-negative; members that all point
    at the right class give an ensemble that does too.
    """
    from harness.ensembles.types import SOURCES, Ensemble

    cls = plugins.registry("ensembles").get(name)
    assert isinstance(cls, type) and issubclass(cls, Ensemble), f"{name}: registered {cls!r}, not a harness.Ensemble"
    assert cls.source in SOURCES, f"{name}: source {cls.source!r}"
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 3
    noisy = rng.dirichlet(np.ones(3), size=(3, 30))  # [M, N, K]
    method = cls(**_options(plugins, "ensembles", name, options))
    assert method.fit(noisy, labels) is method, f"{name}: fit does not return self"
    proba = np.asarray(method.predict_proba(noisy), dtype=np.float64)
    assert proba.shape == (30, 3), f"{name}: predict_proba shape {proba.shape}, expected (30, 3)"
    assert np.isfinite(proba).all() and (proba >= 0).all(), f"{name}: probabilities out of range"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6, err_msg=f"{name}: rows do not sum to one")
    np.testing.assert_allclose(method.predict_proba(noisy), proba, err_msg=f"{name}: predict_proba is not repeatable")
    np.testing.assert_array_equal(method.predict(noisy), proba.argmax(axis=1), err_msg=f"{name}: predict is not argmax")
    if method.weights_ is not None:
        weights = np.asarray(method.weights_, dtype=np.float64)
        assert weights.shape == (3,) and (weights >= 0).all(), f"{name}: weights_ {weights}"
    right = np.full((3, 30, 3), 0.1)
    right[:, np.arange(30), labels] = 0.8
    agreed = cls(**_options(plugins, "ensembles", name, options)).fit(right, labels).predict(right)
    np.testing.assert_array_equal(agreed, labels, err_msg=f"{name}: members that agree on the right class are outvoted")


def _tta_entry(plugins: Plugins, name: str, options: dict[str, Any] | None) -> Any:
    return plugins.registry("tta").get(name)(**_options(plugins, "tta", name, options))


def check_tta_view(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """A TTA view is a :class:`harness.TTAView` mapping ``[B, C, H, W]`` to ``[forwards * B, C, H, W]``."""
    import torch

    from harness.tta.types import TTAView

    view = _tta_entry(plugins, name, options)
    assert isinstance(view, TTAView), f"{name}: returned {type(view).__name__}, not a harness.TTAView"
    assert isinstance(view.forwards, int) and view.forwards >= 1, f"{name}: forwards {view.forwards!r}"
    torch.manual_seed(0)
    images = torch.rand(2, 3, 16, 16) * 255
    out = view(images.clone())
    assert tuple(out.shape) == (2 * view.forwards, 3, 16, 16), f"{name}: output shape {tuple(out.shape)}"
    assert out.is_floating_point() and torch.isfinite(out).all(), f"{name}: non-finite or non-float output"
    assert torch.equal(view(images.clone()), out), f"{name}: not deterministic"


def check_tta_merge(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """A TTA merge is a :class:`harness.TTAMerge` mapping ``[V, N, K]`` to ``[N, K]`` probability rows.

    Views that all agree keep each row's most probable class.
    """
    from harness.tta.types import TTAMerge

    merge = _tta_entry(plugins, name, options)
    assert isinstance(merge, TTAMerge), f"{name}: returned {type(merge).__name__}, not a harness.TTAMerge"
    rng = np.random.default_rng(0)
    views = rng.dirichlet(np.ones(4), size=(3, 10))  # [V, N, K]
    out = np.asarray(merge(views))
    assert out.shape == (10, 4), f"{name}: merged shape {out.shape}, expected (10, 4)"
    assert np.isfinite(out).all() and (out >= 0).all(), f"{name}: merged probabilities out of range"
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6, err_msg=f"{name}: rows do not sum to one")
    same = np.repeat(views[:1], 3, axis=0)
    np.testing.assert_array_equal(np.asarray(merge(same)).argmax(axis=1), views[0].argmax(axis=1),
                                  err_msg=f"{name}: identical views changed the predicted class")


def check_tracker(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """A tracker is a :class:`harness.Tracker` that takes a whole run's calls without raising.

    Runs in a temporary working directory (so a default local store such as ``./mlruns``
    lands there): experiment start, a cell's start, two epochs, finish with metrics and
    files; a failed cell; a derived row; experiment end.
    """
    import json
    import os
    import tempfile
    from pathlib import Path

    from harness.tracking import TrackedCell, Tracker

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            tracker = plugins.registry("trackers").get(name)(**_options(plugins, "trackers", name, options))
            assert isinstance(tracker, Tracker), f"{name}: returned {type(tracker).__name__}, not a harness.Tracker"
            root = Path(tmp) / "runs" / "contract"
            folder = root / "cell-a"
            folder.mkdir(parents=True)
            config = {"id": "cell-a", "row": "row a", "model": {"plugin": "timm", "arch": "x"}, "seed": 0}
            (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
            (folder / "metrics.json").write_text(json.dumps({"test.accuracy": 0.5}), encoding="utf-8")
            cell = TrackedCell("cell-a", "row a", config, folder)
            tracker.start_experiment("contract", root)
            tracker.start_cell(cell)
            for epoch in (1, 2):
                tracker.log_epoch(cell, epoch, {"train.loss": 1.0 / epoch, "val.accuracy": 0.4 + epoch / 10,
                                                "lr": 0.01, "seconds": 0.1})
            tracker.finish_cell(cell, {"test.accuracy": 0.5, "val.accuracy": 0.6}, cell.files())
            failed = TrackedCell("cell-b", "row b", {**config, "id": "cell-b"}, root / "cell-b")
            tracker.start_cell(failed)
            tracker.fail_cell(failed, "RuntimeError: out of memory")
            row = TrackedCell("ensemble-x", "ensemble x", {"id": "ensemble-x", "kind": "ensemble"}, folder, "ensemble")
            tracker.log_row(row, {"test.accuracy": 0.7}, cell.files())
            tracker.end_experiment()
        finally:
            os.chdir(here)


def _tta_names(plugins: Plugins, cls_name: str) -> list[str]:
    from harness.tta import types

    wanted = getattr(types, cls_name)
    return [n for n in plugins.registry("tta").names() if isinstance(_tta_entry(plugins, n, None), wanted)]
