"""Contract tests for plugins, shipped with the library.

A plugin package runs the same checks as the built-ins::

    from harness.testing import ensemble_contract_tests, model_contract_tests
    test_models = model_contract_tests(["tiny-cnn"], options={"tiny-cnn": {"width": 4}})
    test_ensembles = ensemble_contract_tests(["median-vote"])

Each ``*_contract_tests`` function returns a pytest test function parametrised over the
named entries (every registered one of its kind by default); the ``check_*`` functions
hold the checks themselves and can be called directly. Options come from, in order:
the ``options`` argument, the entry's ``example`` (``registry.register(...,
example={...})``: small, fast settings) and the factory's defaults.

One check per kind (:data:`CHECKS`): models, datasets, losses, optimizers,
schedulers (with their cycle ends), metrics, ensembles, TTA views, TTA merges and
trackers. A new kind of plugin (anomaly models) adds its ``check_<kind>`` function and one
:data:`CHECKS` entry, and gets ``contract_tests("<kind>")`` for free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.plugins import Plugins, build_plugins


def _options(plugins: Plugins, kind: str, name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` if given, else the entry's registered ``example``, else no options."""
    if options is not None:
        return dict(options)
    return dict(plugins.registry(kind).entry(name).example or {})


def check_model(plugins: Plugins, name: str, options: dict[str, Any] | None = None, image_size: int = 32) -> None:
    """A model builds, maps ``[2, 3, S, S]`` to finite ``[2, K]`` logits, and learns.

    Checks: the factory returns an ``nn.Module``; logits have the right shape and are
    finite; maps (if any) are ``[B, h, w]``; the loss (the model's own, if it has one)
    is a finite scalar whose gradient reaches the parameters; evaluation is repeatable.
    """
    import torch

    from harness.model import Batch, split_outputs

    torch.manual_seed(0)
    model = plugins.registry("models").get(name)(num_classes=3, **_options(plugins, "models", name, options))
    assert isinstance(model, torch.nn.Module), f"{name}: factory returned {type(model).__name__}"
    images = torch.randn(2, 3, image_size, image_size)
    labels = torch.tensor([0, 2])
    masks = torch.zeros(2, image_size, image_size)
    masks[1, 4:12, 4:12] = 1
    batch = Batch(images, labels, masks, torch.tensor([True, True]), training=True, epoch=0, num_epochs=4,
                  progress=0.0)
    model.train()
    outputs = model.forward_batch(batch) if hasattr(model, "forward_batch") else model(images)
    logits, maps = split_outputs(outputs)
    assert tuple(logits.shape) == (2, 3), f"{name}: logits shape {tuple(logits.shape)}, expected (2, 3)"
    assert torch.isfinite(logits).all(), f"{name}: non-finite logits"
    for key, value in maps.items():
        assert value.dim() in (3, 4) and value.shape[0] == 2, f"{name}: map {key} has shape {tuple(value.shape)}"
    if hasattr(model, "compute_loss"):
        result = model.compute_loss(outputs, batch)
        loss = result[0] if isinstance(result, tuple) else result
    else:
        loss = torch.nn.functional.cross_entropy(logits, labels)
    assert loss.dim() == 0 and torch.isfinite(loss), f"{name}: loss {loss}"
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{name}: no gradient reached any parameter"
    model.eval()
    with torch.no_grad():
        first, _ = split_outputs(model(images))
        second, _ = split_outputs(model(images))
    assert torch.allclose(first, second), f"{name}: evaluation is not repeatable"


def check_dataset(plugins: Plugins, name: str, options: dict[str, Any] | None = None, image_size: int = 32) -> None:
    """A dataset builds three consistent splits, deterministically."""
    from harness.data import SPLITS, Dataset

    factory = plugins.registry("datasets").get(name)
    options = _options(plugins, "datasets", name, options)
    first = factory(image_size=image_size, **options)
    again = factory(image_size=image_size, **options)
    assert isinstance(first, Dataset), f"{name}: factory returned {type(first).__name__}"
    assert first.fingerprint == again.fingerprint, f"{name}: fingerprint changes between identical builds"
    for cls in first.classes:
        assert cls.isidentifier() and cls == cls.lower(), f"{name}: class name {cls!r} is not a lower-case identifier"
    for split in SPLITS:
        s = first.split(split)
        assert len(s) > 0, f"{name}: empty {split} split"
        assert s.images.shape[1:3] == (image_size, image_size), f"{name}: {split} images {s.images.shape}"
        assert s.labels.min() >= 0 and s.labels.max() < len(first.classes), f"{name}: {split} labels out of range"
        np.testing.assert_array_equal(s.images, again.split(split).images, err_msg=f"{name}: not deterministic")


def check_loss(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """A loss gives a finite scalar with a gradient, and is lower for better logits."""
    import torch

    loss_fn = plugins.registry("losses").get(name)(class_counts=[6, 3, 1], **_options(plugins, "losses", name, options))
    labels = torch.tensor([0, 1, 2, 0])
    good = torch.nn.functional.one_hot(labels, 3).float() * 4.0
    bad = torch.zeros(4, 3, requires_grad=True)
    worse = loss_fn(bad, labels)
    worse.backward()
    assert worse.dim() == 0 and torch.isfinite(worse), f"{name}: loss {worse}"
    assert bad.grad is not None and bad.grad.abs().sum() > 0, f"{name}: no gradient"
    assert loss_fn(good, labels).item() < worse.item(), f"{name}: confident correct logits do not lower the loss"


def check_optimizer(plugins: Plugins, name: str, options: dict[str, Any] | None = None) -> None:
    """An optimizer is a ``torch.optim.Optimizer`` that lowers a simple quadratic loss."""
    import torch

    torch.manual_seed(0)
    param = torch.nn.Parameter(torch.full((4,), 3.0))
    optimizer = plugins.registry("optimizers").get(name)([param], **_options(plugins, "optimizers", name, options))
    assert isinstance(optimizer, torch.optim.Optimizer), f"{name}: returned {type(optimizer).__name__}"
    start = float((param.detach() ** 2).sum())
    for _ in range(20):
        optimizer.zero_grad()
        (param ** 2).sum().backward()
        optimizer.step()
    end = float((param.detach() ** 2).sum())
    assert math.isfinite(end) and end < start, f"{name}: loss went from {start} to {end} in 20 steps"


def _lr_curve(schedule: Any, optimizer: Any, epochs: int, steps: int) -> list[list[float]]:
    """The learning rate of every optimizer step, epoch by epoch, stepping as the loop does."""
    import torch

    curve = []
    for _ in range(epochs):
        lrs = []
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if schedule.interval == "step":
                schedule.scheduler.step()
        if schedule.interval == "epoch":
            if isinstance(schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                schedule.scheduler.step(0.5)
            else:
                schedule.scheduler.step()
        curve.append(lrs)
    return curve


def check_scheduler(plugins: Plugins, name: str, options: dict[str, Any] | None = None, *, epochs: int = 6,
                    steps_per_epoch: int = 3) -> None:
    """A scheduler returns a :class:`harness.Schedule` that steps and keeps the LR finite.

    Its ``cycle_end_epochs`` are increasing epochs within the run; at each one that is
    not the last epoch the learning rate restarts (the next epoch's first rate is higher
    than the end epoch's last), which is where a snapshot ensemble takes a member.
    """
    import torch

    from harness.schedule import Schedule

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    schedule = plugins.registry("schedulers").get(name)(optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                                        **_options(plugins, "schedulers", name, options))
    assert isinstance(schedule, Schedule), f"{name}: returned {type(schedule).__name__}, not harness.Schedule"
    assert schedule.interval in ("step", "epoch"), f"{name}: interval {schedule.interval!r}"
    curve = _lr_curve(schedule, optimizer, epochs, steps_per_epoch)
    for epoch, lrs in enumerate(curve, 1):
        assert all(math.isfinite(lr) and lr >= 0 for lr in lrs), f"{name}: learning rates {lrs} in epoch {epoch}"
    ends = tuple(schedule.cycle_end_epochs)
    assert all(isinstance(e, int) and 1 <= e <= epochs for e in ends), f"{name}: cycle_end_epochs {ends}"
    assert list(ends) == sorted(set(ends)), f"{name}: cycle_end_epochs {ends} are not increasing"
    for end in ends:
        if end < epochs:
            assert curve[end][0] > curve[end - 1][-1], (
                f"{name}: no restart after cycle end {end}: lr {curve[end - 1][-1]} then {curve[end][0]}")


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


CHECKS: dict[str, tuple[str, Callable[..., None]]] = {
    "models": ("models", check_model),
    "datasets": ("datasets", check_dataset),
    "losses": ("losses", check_loss),
    "optimizers": ("optimizers", check_optimizer),
    "schedulers": ("schedulers", check_scheduler),
    "metrics": ("metrics", check_metric),
    "ensembles": ("ensembles", check_ensemble),
    "tta_views": ("tta", check_tta_view),
    "tta_merges": ("tta", check_tta_merge),
    "trackers": ("trackers", check_tracker),
    # anomaly models: their check_<kind> and registry kind go here when they exist
}
"""Contract name to (registry kind, check): what :func:`contract_tests` runs."""


def _tta_names(plugins: Plugins, cls_name: str) -> list[str]:
    from harness.tta import types

    wanted = getattr(types, cls_name)
    return [n for n in plugins.registry("tta").names() if isinstance(_tta_entry(plugins, n, None), wanted)]


def contract_tests(contract: str, names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                   options: dict[str, dict[str, Any]] | None = None):
    """A pytest test running ``CHECKS[contract]`` over the named (default: every registered) entries.

    Args:
        contract: a key of :data:`CHECKS` (``"models"``, ..., ``"tta_views"``, ``"tta_merges"``).
        names: the entries to check; default every registered one of that kind (for TTA,
            every view or every merge).
        exclude: names to leave out of the default.
        options: per-name options, overriding the entries' ``example``.
    """
    import pytest

    kind, check = CHECKS[contract]
    plugins = build_plugins()
    if names is None:
        every = {"tta_views": lambda: _tta_names(plugins, "TTAView"),
                 "tta_merges": lambda: _tta_names(plugins, "TTAMerge")}.get(contract, plugins.registry(kind).names)()
        names = [n for n in every if n not in exclude]
    given = options or {}

    @pytest.mark.parametrize("name", names)
    def test_contract(name: str) -> None:
        check(plugins, name, given.get(name))

    return test_contract


def model_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                         options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) model plugins."""
    return contract_tests("models", names, exclude=exclude, options=options)


def dataset_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                           options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) dataset plugins."""
    return contract_tests("datasets", names, exclude=exclude, options=options)


def loss_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                        options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) loss plugins."""
    return contract_tests("losses", names, exclude=exclude, options=options)


def optimizer_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                             options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) optimizer plugins."""
    return contract_tests("optimizers", names, exclude=exclude, options=options)


def scheduler_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                             options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) scheduler plugins."""
    return contract_tests("schedulers", names, exclude=exclude, options=options)


def metric_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = ()):
    """A pytest test over the named (default: every registered) metric plugins."""
    return contract_tests("metrics", names, exclude=exclude)


def ensemble_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                            options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) ensemble methods."""
    return contract_tests("ensembles", names, exclude=exclude, options=options)


def tta_view_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                            options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) TTA views."""
    return contract_tests("tta_views", names, exclude=exclude, options=options)


def tta_merge_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                             options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) TTA merges."""
    return contract_tests("tta_merges", names, exclude=exclude, options=options)


def tracker_contract_tests(names: list[str] | None = None, *, exclude: tuple[str, ...] = (),
                           options: dict[str, dict[str, Any]] | None = None):
    """A pytest test over the named (default: every registered) trackers."""
    return contract_tests("trackers", names, exclude=exclude, options=options)
