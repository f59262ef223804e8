"""The decision keys of [experiment]: accepted as written, every mistake at its line."""

from __future__ import annotations

import pytest

from harness.config.validate import load_experiment
from harness.errors import ConfigError

MODEL = """
[[matrix.model]]
plugin = "toy-cnn"
"""


def test_decision_keys_reach_the_experiment(write_toml, plugins) -> None:
    path = write_toml("""
        [experiment]
        name = "d"
        select_winner_by = "val.accuracy"
        slice_by = ["defect"]
        costs = { missed_defect = 50, false_alarm = 1 }
        effects = ["model.width"]
        effects_reference = { "model.width" = "4" }
        label_issues = true
        permutations = 5000
        """ + MODEL)
    experiment = load_experiment(path, plugins)
    assert experiment.decisions == {
        "select_winner_by": "val.accuracy",
        "slice_by": ["defect"],
        "costs": {"missed_defect": 50, "false_alarm": 1},
        "effects": ["model.width"],
        "effects_reference": {"model.width": "4"},
        "label_issues": True,
        "permutations": 5000,
    }
    assert load_experiment(write_toml('[experiment]\nname = "e"\n' + MODEL, "e.toml"), plugins).decisions == {}


def test_decision_key_mistakes_name_their_lines(write_toml, plugins) -> None:
    path = write_toml("""
        [experiment]
        name = "d"
        select_winner_by = "test.accuracy"
        slice_by = "defect"
        costs = { missed_defect = -5, false_alarms = 1 }
        effects = ["strategy"]
        permutations = 10
        label_issues = "yes"
        """ + MODEL)
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    lines = info.value.problems
    unknown = [x for x in lines if x.startswith(f"{path}:5: experiment.costs.false_alarms: unknown key")]
    assert len(unknown) == 1 and "Did you mean 'false_alarm'" in unknown[0]
    assert set(lines) - set(unknown) == {
        f"""{path}:3: experiment.select_winner_by: must look like "val.<metric>", got 'test.accuracy'""",
        f"{path}:4: experiment.slice_by: must be a list of sample metadata field names, got 'defect'",
        f"{path}:5: experiment.costs.missed_defect: must be >= 0, got -5",
        f"{path}:5: experiment.costs.false_alarm: is required",
        f"""{path}:6: experiment.effects: must be a list of matrix axes such as "model.strategy", got ['strategy']""",
        f"{path}:7: experiment.permutations: must be >= 100 permutation-test swaps, got 10",
        f"{path}:8: experiment.label_issues: must be true or false, got 'yes'",
    }
    assert len(lines) == 8
