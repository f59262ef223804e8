"""harness.testing's checks catch broken plugins of every kind, not only pass good ones."""

from __future__ import annotations

import numpy as np
import pytest

from harness import Ensemble, Schedule, TTAMerge, TTAView, hookimpl
from harness.plugins import build_plugins
from harness.testing import (
    CHECKS,
    check_ensemble,
    check_optimizer,
    check_scheduler,
    check_tta_merge,
    check_tta_view,
)


class NotAnEnsemble:  # duck-typed: fit/predict_proba, but not a harness.Ensemble
    def fit(self, proba, labels):
        return self

    def predict_proba(self, proba):
        return proba.mean(axis=0)


class Unnormalised(Ensemble):
    def fit(self, proba, labels):
        return self

    def predict_proba(self, proba):
        return proba.sum(axis=0)  # rows sum to M, not one


class Contrarian(Ensemble):
    def fit(self, proba, labels):
        return self

    def predict_proba(self, proba):
        p = 1.0 - proba.mean(axis=0)  # favours the class the members rule out
        return p / p.sum(axis=1, keepdims=True)


def no_restart(optimizer, *, epochs, steps_per_epoch):
    from torch.optim.lr_scheduler import LambdaLR

    return Schedule(LambdaLR(optimizer, lambda step: 1.0), interval="step", cycle_end_epochs=(2, 4))


def cycle_after_the_run(optimizer, *, epochs, steps_per_epoch):
    from torch.optim.lr_scheduler import LambdaLR

    return Schedule(LambdaLR(optimizer, lambda step: 1.0), cycle_end_epochs=(epochs + 1,))


def bare_scheduler(optimizer, *, epochs, steps_per_epoch):
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lambda step: 1.0)


def ascent(params, **options):
    import torch

    class Ascent(torch.optim.SGD):
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.data.add_(p.grad, alpha=group["lr"])  # climbs the loss

    return Ascent(params, lr=0.1)


class Broken:
    """An in-process plugin registering one broken entry per kind."""

    @hookimpl
    def harness_register_ensembles(self, registry):
        registry.register("duck", NotAnEnsemble)
        registry.register("unnormalised", Unnormalised)
        registry.register("contrarian", Contrarian)

    @hookimpl
    def harness_register_schedulers(self, registry):
        registry.register("no-restart", no_restart)
        registry.register("late-cycle", cycle_after_the_run)
        registry.register("bare", bare_scheduler)

    @hookimpl
    def harness_register_optimizers(self, registry):
        registry.register("ascent", ascent)

    @hookimpl
    def harness_register_tta(self, registry):
        registry.register("half", lambda: TTAView("half", lambda images: images[: len(images) // 2]))
        registry.register("claims-two", lambda: TTAView("claims-two", lambda images: images, forwards=2))
        registry.register("a-merge", lambda: TTAMerge("a-merge", lambda p: p.mean(axis=0)))
        registry.register("sums", lambda: TTAMerge("sums", lambda p: p.sum(axis=0)))
        registry.register("flips-class", lambda: TTAMerge("flips-class", lambda p: np.roll(p.mean(axis=0), 1, -1)))


@pytest.fixture(scope="module")
def broken():
    return build_plugins(extra=(Broken(),))


@pytest.mark.parametrize(("check", "name", "message"), [
    (check_ensemble, "duck", "not a harness.Ensemble"),
    (check_ensemble, "unnormalised", "rows do not sum to one"),
    (check_ensemble, "contrarian", "members that agree on the right class are outvoted"),
    (check_scheduler, "no-restart", "no restart after cycle end 2"),
    (check_scheduler, "late-cycle", "cycle_end_epochs (7,)"),
    (check_scheduler, "bare", "not harness.Schedule"),
    (check_optimizer, "ascent", "loss went from"),
    (check_tta_view, "half", "output shape (1, 3, 16, 16)"),
    (check_tta_view, "claims-two", "output shape (2, 3, 16, 16)"),
    (check_tta_view, "a-merge", "not a harness.TTAView"),
    (check_tta_merge, "sums", "rows do not sum to one"),
    (check_tta_merge, "flips-class", "identical views changed the predicted class"),
    (check_tta_merge, "half", "not a harness.TTAMerge"),
])
def test_a_broken_plugin_fails_its_contract(broken, check, name, message):
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(broken, name)


def test_good_entries_pass_and_examples_are_used(broken):
    check_ensemble(broken, "soft-voting")
    check_scheduler(broken, "cosine_warm_restart")  # its registered example (T_0 = 2) restarts inside the run
    assert broken.registry("schedulers").entry("cosine_warm_restart").example == {"T_0": 2}
    check_tta_merge(broken, "a-merge")


def test_every_registry_kind_has_a_contract():
    from harness.plugins import KINDS

    assert {kind for kind, _ in CHECKS.values()} == set(KINDS)
    assert {"tta_views", "tta_merges"} <= set(CHECKS)  # the two TTA types are separate contracts


def test_validate_refuses_an_ensemble_that_is_not_a_harness_ensemble(broken, write_toml):
    from harness.config import load_experiment
    from harness.errors import ConfigError

    path = write_toml("""
        [experiment]
        name = "duck"
        [[matrix.model]]
        plugin = "toy-cnn"
        [[ensemble]]
        plugin = "duck"
        [[ensemble]]
        plugin = "soft-voting"
        """)
    with pytest.raises(ConfigError) as info:
        load_experiment(path, broken)
    assert info.value.problems == [f"{path}:6: ensemble[0].plugin: ensemble 'duck' is registered as "
                                   f"{NotAnEnsemble!r}, not as a subclass of harness.Ensemble"]
