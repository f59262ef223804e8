from __future__ import annotations

import optuna
import pytest

from harness.config import load_experiment
from harness.errors import ConfigError
from harness.tune.space import Param, apply, flatten_space, parse_param


def test_flatten_nested_tables_to_paths():
    space = {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "model": {"drop_rate": {"choices": [0.0, 0.2]}},
             "train": {"loss": {"gamma": {"low": 0.5, "high": 3.0}}}}
    assert flatten_space(space) == {"lr": space["lr"], "model.drop_rate": {"choices": [0.0, 0.2]},
                                    "train.loss.gamma": {"low": 0.5, "high": 3.0}}


def test_params_map_onto_suggest_calls():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    lr, _ = parse_param("lr", {"low": 1e-4, "high": 1e-2, "log": True})
    bs, _ = parse_param("batch_size", {"low": 8, "high": 32, "step": 8})
    drop, _ = parse_param("model.drop_rate", {"choices": [0.0, 0.5]})
    values = {p.path: p.suggest(trial) for p in (lr, bs, drop)}
    assert lr.path == "train.optimizer.lr" and 1e-4 <= values["train.optimizer.lr"] <= 1e-2
    assert values["train.batch_size"] in (8, 16, 24, 32) and isinstance(values["train.batch_size"], int)
    assert values["model.drop_rate"] in (0.0, 0.5)
    dist = trial.distributions
    assert isinstance(dist["train.optimizer.lr"], optuna.distributions.FloatDistribution) and dist["train.optimizer.lr"].log
    assert isinstance(dist["train.batch_size"], optuna.distributions.IntDistribution) and dist["train.batch_size"].step == 8
    assert isinstance(dist["model.drop_rate"], optuna.distributions.CategoricalDistribution)


@pytest.mark.parametrize("spec,problem", [
    ({"low": 1e-2, "high": 1e-4}, ("high", "must be greater than low (0.01 >= 0.0001)")),
    ({"low": 0.0, "high": 1.0, "log": True}, ("low", "must be > 0 on a log scale")),
    ({"choices": []}, ("choices", "must be a non-empty list")),
    ({"low": 1, "high": 4, "stride": 2}, ("stride", "unknown key; allowed: low, high, log, step, choices")),
])
def test_invalid_specs(spec, problem):
    param, problems = parse_param("lr", spec)
    assert param is None and problem in problems


def test_apply_sets_nested_keys_and_expands_named_components():
    config = {"train": {"optimizer": {"name": "adam", "lr": 1e-3}, "loss": "focal"}, "model": {"plugin": "timm"}}
    out = apply(config, {"train.optimizer.lr": 0.5, "train.loss.gamma": 1.0, "model.drop_rate": 0.1})
    assert out == {"train": {"optimizer": {"name": "adam", "lr": 0.5}, "loss": {"name": "focal", "gamma": 1.0}},
                   "model": {"plugin": "timm", "drop_rate": 0.1}}
    assert config["train"]["optimizer"]["lr"] == 1e-3  # the original is untouched


def test_grid_needs_steps_or_choices():
    assert Param("train.optimizer.lr", 1, 3, step=1).choices is None


def test_invalid_space_is_a_config_error_with_lines(tiny_experiment, plugins):
    path = tiny_experiment("""
        [tune]
        n_trials = 0
        sampler = "bayes"
        space.lr = { low = 0.1, high = 0.01 }
        space.optimizer.lr = { low = 1e-3, high = 1e-2 }

        [[matrix.model]]
        plugin = "toy-cnn"
        tune = { n_trials = 2, pruner = "sometimes" }
        """, name="badtune")
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    text = "\n".join(info.value.problems)
    lines = path.read_text().splitlines()
    line = {key: next(i for i, text_line in enumerate(lines, 1) if text_line.startswith(key)) for key in
            ("n_trials", "sampler", "space.lr", "space.optimizer", "tune = ")}
    assert f"{path}:{line['n_trials']}: tune.n_trials: must be >= 1, got 0" in text
    assert f"{path}:{line['sampler']}: tune.sampler: must be one of tpe, random, grid, cmaes, got 'bayes'" in text
    assert f"{path}:{line['space.lr']}: tune.space.lr.high: must be greater than low (0.1 >= 0.01)" in text
    assert (f"{path}:{line['space.optimizer']}: tune.space.optimizer.lr: 'optimizer.lr' does not address a config "
            "key") in text
    assert f"{path}:{line['tune = ']}: matrix.model[0].tune.pruner: must name one of" in text
    assert len(info.value.problems) == 5


def test_model_block_overrides_experiment_tune(tiny_experiment, plugins):
    path = tiny_experiment("""
        [tune]
        n_trials = 5
        space.lr = { low = 1e-3, high = 1e-1, log = true }

        [[matrix.model]]
        plugin = "toy-cnn"
        tune = { n_trials = 2 }

        [[matrix.model]]
        plugin = "toy-cnn"
        name = "wide"
        width = 12
        """, name="override")
    cells = load_experiment(path, plugins).cells
    assert [c.config["tune"]["n_trials"] for c in cells] == [2, 5]
    assert all(c.config["tune"]["metric"] == "val.f1_macro" for c in cells)
    assert "tune" not in cells[0].config["model"]
