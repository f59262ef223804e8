from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import fields as F
from harness.config import load_experiment
from harness.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
README = REPO / "experiments" / "README.md"

THREE_MISTAKES = """\
[experiment]
name = "bad"
seeds = [0]

[train]
epoch = 3
optimizer = { name = "adamw", lr = 1e-3 }

[[matrix.model]]
plugin = "timm"
arch = "convnext_atto"

[[matrix.model]]
plugin = "toy-cn"
"""


def test_three_mistakes_three_lines_exit_2(write_toml, capsys):
    path = write_toml(THREE_MISTAKES.replace('seeds = [0]', 'seeds = [0]\nrank_by = "f1"'))
    code = main(["validate", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    problems = [line for line in err if line.startswith(str(path))]
    assert len(problems) == 3
    assert problems[0] == f"{path}:4: experiment.rank_by: must look like \"test.<metric>\", got 'f1'"
    assert problems[1] == (
        f"{path}:7: train.epoch: unknown key. Did you mean 'epochs'? Allowed: augment, batch_size, channels_last, "
        "device, early_stopping, epochs, eval_batch_size, freeze_backbone_epochs, grad_clip, loss, map_size, "
        "optimizer, precision, resume_every, scheduler, threshold, train_eval_samples, train_on")
    assert problems[2].startswith(f"{path}:15: matrix.model[1].plugin: unknown model 'toy-cn'. Did you mean 'toy-cnn'")
    assert problems[2].endswith("toy-cnn, toy-exploding") and "Available: anomalib, cats, " in problems[2]
    assert err[-1] == "harness: 3 problem(s) found"
    assert "Traceback" not in "\n".join(err)


def test_cli_exit_code_from_a_real_process(write_toml):
    path = write_toml(THREE_MISTAKES)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count(f"{path}:") == 2
    assert "Traceback" not in proc.stderr


def test_plugin_option_problems_name_the_block_line(write_toml, plugins):
    path = write_toml("""
        [experiment]
        name = "opts"
        [[matrix.model]]
        plugin = "timm"
        arch = "convnext_attto"
        [[matrix.model]]
        plugin = "toy-cnn"
        width = [4, -1]
        colour = "red"
        """)
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    lines = info.value.problems
    assert lines[0].startswith(f"{path}:5: matrix.model[0].arch: 'convnext_attto' is not a timm architecture.")
    assert "Did you mean 'convnext_atto'" in lines[0]
    assert lines[1] == f"{path}:8: matrix.model[1].width: must be a positive integer, got -1"
    assert lines[2] == f"{path}:9: matrix.model[1].colour: unknown option of model 'toy-cnn'. Allowed: width"
    assert len(lines) == 3


def test_toml_syntax_error_has_a_line(write_toml, plugins):
    path = write_toml('[experiment]\nname = "x"\nseeds = [0,\n[train]\n')
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    assert re.match(rf"{re.escape(str(path))}:4: invalid TOML: ", info.value.problems[0])


def test_component_plugins_and_values_checked(write_toml, plugins):
    path = write_toml("""
        [experiment]
        name = "comp"
        [train]
        epochs = 0
        loss = "focall"
        augment = { hflip = 1.5 }
        [[matrix.model]]
        plugin = "toy-cnn"
        """)
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    text = "\n".join(info.value.problems)
    assert f"{path}:4: train.epochs: must be >= 1, got 0" in text
    assert f"{path}:5: train.loss.name: unknown loss 'focall'. Did you mean 'focal'?" in text
    assert f"{path}:6: train.augment.hflip: must be a probability between 0 and 1, got 1.5" in text
    assert len(info.value.problems) == 3


def test_defaults_filled_and_cells_expanded(write_toml, plugins):
    path = write_toml("""
        [experiment]
        name = "ok"
        seeds = [3, 4]
        [[matrix.model]]
        plugin = "toy-cnn"
        width = [4, 8]
        """)
    exp = load_experiment(path, plugins)
    assert (exp.name, exp.seeds, exp.rank_by, exp.select_by) == ("ok", (3, 4), "test.f1_macro", "val.f1_macro")
    assert exp.train["optimizer"] == {"name": "adamw", "lr": 1e-3}
    assert exp.train["loss"] == {"name": "ce"}
    assert exp.dataset == {"plugin": "synthetic-defects", "image_size": 64}
    assert len(exp.cells) == 4
    assert {(c.config["model"]["width"], c.config["seed"]) for c in exp.cells} == {(4, 3), (4, 4), (8, 3), (8, 4)}


def _documented_keys(section: str) -> set[str]:
    text = README.read_text()
    block = text.split(f"### [{section}]", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", block, re.M))


@pytest.mark.parametrize("section,fields", [("experiment", F.EXPERIMENT), ("train", F.TRAIN), ("tune", F.TUNE),
                                            ("tta", F.TTA)])
def test_every_documented_key_is_accepted_and_every_key_documented(section, fields):
    assert _documented_keys(section) == set(fields)


def test_readme_example_validates(tmp_path, plugins):
    example = README.read_text().split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(example)
    exp = load_experiment(path, plugins)
    # 3 models x 2 epochs axes x 2 seeds, minus resnet10t at 1 epoch for both seeds
    assert len(exp.cells) == 3 * 2 * 2 - 2
    atto = [c for c in exp.cells if c.config["model"].get("arch") == "convnext_atto"]
    assert all(c.config["model"]["drop_path_rate"] == 0.1 for c in atto) and len(atto) == 4


@pytest.mark.parametrize("path", sorted((REPO / "experiments").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_experiment_validates(path, plugins):
    assert len(load_experiment(path, plugins).cells) >= 1
