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
trackers. The checks of what trains a model live in :mod:`harness.testing.training`, those
of what works on its outputs in :mod:`harness.testing.results`; all are importable from
here. A new kind of plugin (anomaly models) adds its ``check_<kind>`` function and one
:data:`CHECKS` entry, and gets ``contract_tests("<kind>")`` for free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.plugins import Plugins, build_plugins
from harness.testing.results import (
    _tta_names,
    check_ensemble,
    check_metric,
    check_tracker,
    check_tta_merge,
    check_tta_view,
)
from harness.testing.training import check_dataset, check_loss, check_model, check_optimizer, check_scheduler

__all__ = [
    "CHECKS", "Plugins", "check_dataset", "check_ensemble", "check_loss", "check_metric", "check_model",
    "check_optimizer", "check_scheduler", "check_tracker", "check_tta_merge", "check_tta_view", "contract_tests",
    "dataset_contract_tests", "ensemble_contract_tests", "loss_contract_tests", "metric_contract_tests",
    "model_contract_tests", "optimizer_contract_tests", "scheduler_contract_tests", "tracker_contract_tests",
    "tta_merge_contract_tests", "tta_view_contract_tests",
]

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
