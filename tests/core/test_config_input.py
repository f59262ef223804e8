"""Validation that sees what a run will need: metrics, include/exclude, encodings, nesting."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.config import load_experiment
from harness.errors import ConfigError

MODELS = """
[[matrix.model]]
plugin = "toy-cnn"
width = [4, 8]
"""


def _problems(path, plugins, **kw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins, **kw)
    return info.value.problems


def test_rank_and_select_metrics_resolved_with_did_you_mean(write_toml, plugins):
    path = write_toml('[experiment]\nname = "m"\nrank_by = "test.f1_macroo"\nselect_by = "val.nope"\n' + MODELS)
    lines = _problems(path, plugins)
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:3: experiment.rank_by: no metric 'f1_macroo' will be recorded for test. "
                               "Did you mean 'test.f1_macro'")
    assert lines[1].startswith(f"{path}:4: experiment.select_by: no metric 'nope' will be recorded for val.")
    assert "f1_<class>" in lines[1] and "f1_macro" in lines[1]


@pytest.mark.parametrize("rank_by,select_by", [("test.f1_defect", "val.recall_normal"), ("test.ece", "val.loss"),
                                               ("val.brier", "val.auroc"), ("test.latency_ms", "val.f1_macro")])
def test_metrics_every_run_records_pass(write_toml, plugins, rank_by, select_by):
    path = write_toml(f'[experiment]\nname = "m"\nrank_by = "{rank_by}"\nselect_by = "{select_by}"\n' + MODELS)
    assert load_experiment(path, plugins).rank_by == rank_by


def test_per_class_metrics_follow_the_declared_classes(write_toml, plugins):
    head = '[experiment]\nname = "m"\nrank_by = "test.f1_{}"\n[dataset]\nplugin = "csv"\ncsv = "x.csv"\n'
    ok = write_toml(head.format("good") + 'classes = ["bad", "good"]\n' + MODELS)
    assert load_experiment(ok, plugins).rank_by == "test.f1_good"
    bad = write_toml(head.format("god") + 'classes = ["bad", "good"]\n' + MODELS, "bad.toml")
    assert any("experiment.rank_by: no metric 'f1_god'" in line and "'test.f1_good'" in line
               for line in _problems(bad, plugins))


def test_unknown_classes_accept_any_class_but_not_near_misses(write_toml, plugins):
    head = '[experiment]\nname = "m"\nrank_by = "test.{}"\n[dataset]\nplugin = "csv"\ncsv = "x.csv"\n'
    ok = write_toml(head.format("recall_scratch") + MODELS)
    assert load_experiment(ok, plugins).rank_by == "test.recall_scratch"
    bad = write_toml(head.format("f1_macroo") + MODELS, "bad.toml")
    assert any("Did you mean 'test.f1_macro'" in line for line in _problems(bad, plugins))


def test_exclude_matching_nothing_warns_and_fails_with_strict(write_toml, plugins, capsys):
    path = write_toml('[experiment]\nname = "m"\n' + MODELS + '\n[[matrix.exclude]]\nmodel.width = 5\n')
    exp = load_experiment(path, plugins)
    assert len(exp.cells) == 2
    assert exp.warnings == (f"{path}:8: matrix.exclude[0]: warning: matches no cell, so it removes nothing "
                            "(model.width 5 is not one of 4, 8)",)
    assert main(["validate", str(path)]) == 0
    assert exp.warnings[0] in capsys.readouterr().err
    assert main(["validate", "--strict", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:8: matrix.exclude[0]: matches no cell, so it removes nothing" in err
    assert "(an error with --strict)" in err


def test_include_errors_at_their_own_line(write_toml, plugins):
    path = write_toml('[experiment]\nname = "m"\n' + MODELS + """
[[matrix.include]]
model.width = 4
model.colour = "red"

[[matrix.include]]
model.width = 16
""")
    lines = _problems(path, plugins)
    assert lines == [
        f"{path}:10: matrix.include[0].model.colour: unknown option of model 'toy-cnn'. Allowed: width",
        f"{path}:12: matrix.include[1]: matches no cell (model.width 16 is not one of 4, 8), and a new cell it "
        "would add needs model.plugin",
    ]


def test_a_new_cell_from_include_is_checked_at_its_line(write_toml, plugins):
    path = write_toml('[experiment]\nname = "m"\n' + MODELS + """
[[matrix.include]]
model.plugin = "toy-cnn"
model.width = -3
""")
    assert _problems(path, plugins) == [f"{path}:10: matrix.include[0].model.width: must be a positive integer, got -3"]


def test_empty_axis_is_one_error_not_a_cascade(write_toml, plugins):
    path = write_toml('[experiment]\nname = "m"\n[[matrix.model]]\nplugin = "toy-cnn"\nwidth = []\n'
                      '[[matrix.include]]\nmodel.width = 4\nmodel.extra = 1\n')
    assert _problems(path, plugins) == [f"{path}:5: matrix.model[0].width: an empty list is an axis with no values"]


def test_name_with_a_trailing_newline_is_rejected(write_toml, plugins):
    path = write_toml('[experiment]\nname = "evil\\n"\n' + MODELS)
    assert _problems(path, plugins) == [
        f"{path}:2: experiment.name: must be letters, digits, '_', '-' or '.' (it names folders), got 'evil\\n'"]


def test_utf8_bom_is_accepted(tmp_path, plugins):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + ('[experiment]\nname = "bom"\n' + MODELS).encode())
    assert load_experiment(path, plugins).name == "bom"


def test_utf16_is_named(tmp_path, plugins):
    path = tmp_path / "wide.toml"
    path.write_bytes(('[experiment]\nname = "w"\n' + MODELS).encode("utf-16"))
    assert _problems(path, plugins) == [
        f"{path}:1: the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"]


def test_non_utf8_byte_is_a_file_line_error(tmp_path, plugins):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[experiment]\nname = "x"\ndescription = "caf\xe9"\n' + MODELS.encode())
    assert _problems(path, plugins) == [f"{path}:3: byte 0xe9 at column 19 is not UTF-8; save the file as UTF-8"]


@pytest.mark.parametrize("deep", ["seeds = " + "[" * 3000 + "]" * 3000,
                                  "q = " + "{a=" * 3000 + "1" + "}" * 3000,
                                  "[" + ".".join(["a"] * 3000) + "]"])
def test_over_deep_nesting_is_a_file_line_error(tmp_path, plugins, deep, capsys):
    path = tmp_path / "deep.toml"
    path.write_text('[experiment]\nname = "x"\n' + deep + "\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:3: nesting deeper than 32 levels")
    assert "Traceback" not in err


def test_moderate_nesting_still_parses(write_toml, plugins):
    path = write_toml('[experiment]\nname = "x"\n[[matrix.model]]\nplugin = "toy-cnn"\nwidth = [[[[4]]]]\n')
    lines = _problems(path, plugins)
    assert lines == [f"{path}:5: matrix.model[0].width: must be a positive integer, got [[[4]]]"]
