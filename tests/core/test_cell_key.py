"""The cell key covers every setting that changes a cell's result; the rest is documented
as applied afterwards. Walks every key the experiment README documents."""

from __future__ import annotations

import re
from pathlib import Path

from harness.config import load_experiment
from harness.matrix import make_cell, slug

README = Path(__file__).resolve().parents[2] / "experiments" / "README.md"

BASE = {
    "experiment": {"name": '"keys"', "seeds": "[0]", "select_by": '"val.f1_macro"'},
    "dataset": {"image_size": "32"},
    "train": {"epochs": "2", "batch_size": "16"},
    "tune": {"n_trials": "2", "space.lr": "{ low = 1e-4, high = 1e-2, log = true }"},
}
# another valid value for every documented key that must change the key
OTHER = {
    "experiment.seeds": "[1]",
    "experiment.select_by": '"val.accuracy"',
    "dataset.plugin": '"folder"\nroot = "."',
    "dataset.image_size": "48",
    "train.epochs": "3",
    "train.batch_size": "8",
    "train.eval_batch_size": "64",
    "train.optimizer": '{ name = "sgd", lr = 0.1 }',
    "train.scheduler": '"none"',
    "train.loss": '"focal"',
    "train.early_stopping": "{ patience = 2 }",
    "train.augment": "{ hflip = 0.0 }",
    "train.grad_clip": "1.0",
    "train.device": '"auto"',
    "train.map_size": "16",
    "train.precision": '"bf16"',
    "train.channels_last": "true",
    "train.freeze_backbone_epochs": "1",
    "train.resume_every": "5.0",
    "train.train_eval_samples": "256",
    "train.train_on": '"normal"',
    "train.threshold": "{ fpr = 0.05 }",
    "tune.n_trials": "3",
    "tune.timeout": "60.0",
    "tune.metric": '"val.accuracy"',
    "tune.direction": '"minimize"',
    "tune.sampler": '"random"',
    "tune.pruner": '"none"',
    "tune.space": '{ lr = { low = 1e-3, high = 1e-1, log = true } }',
    "tune.storage": '"sqlite:///other.db"',
    "tune.refit": "true",
}


def _documented() -> list[str]:
    text = README.read_text()
    keys = []
    for block in re.split(r"\n### ", text)[1:]:
        head = block.splitlines()[0]
        section = re.match(r"\[\[?([a-z_.]+)\]", head)
        if not section or section.group(1).startswith("matrix"):
            continue
        for key in re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)* \|", block, re.M):
            keys.append(f"{section.group(1)}.{key if isinstance(key, str) else key[0]}")
        keys += [f"{section.group(1)}.{k}" for k in re.findall(r"^\| `[a-z_]+`, `([a-z_]+)` \|", block, re.M)]
    return keys


def _not_in_key() -> tuple[set[str], set[str]]:
    """``(keys, whole sections)`` the README names as outside the cell key."""
    text = README.read_text()
    paragraph = text.split("Not in the cell key", 1)[1].split("\n\n", 1)[0]
    keys = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", paragraph))
    sections = set(re.findall(r"every `\[\[?([a-z_]+)\]\]?` key", paragraph))
    return keys, sections


def _perturbed_default(dotted: str) -> str | None:
    """Another value for a numeric or boolean key of a fixed section, from its default."""
    from harness.config import fields as F

    section, key = dotted.split(".", 1)
    spec = {"train": F.TRAIN, "tune": F.TUNE, "experiment": F.EXPERIMENT}.get(section, {}).get(key)
    if spec is None or spec.default is None or isinstance(spec.default, str):
        return None
    if isinstance(spec.default, bool):
        return "false" if spec.default else "true"
    if isinstance(spec.default, int):
        return str(spec.default + 1)
    if isinstance(spec.default, float):
        return repr(spec.default + 0.5)
    return None


def _text(overrides: dict[str, str]) -> str:
    tables = {section: dict(values) for section, values in BASE.items()}
    for dotted, value in overrides.items():
        section, key = dotted.split(".", 1)
        if key == "space":
            tables[section] = {k: v for k, v in tables[section].items() if not k.startswith("space.")}
        tables[section][key] = value
    out = []
    for section, values in tables.items():
        out.append(f"[{section}]")
        out += [f"{k} = {v}" for k, v in values.items()]
    return "\n".join(out) + '\n[[matrix.model]]\nplugin = "toy-cnn"\n'


def _keys(tmp_path: Path, plugins, overrides: dict[str, str]) -> set[str]:
    path = tmp_path / f"e{abs(hash(tuple(overrides.items())))}.toml"
    path.write_text(_text(overrides))
    experiment = load_experiment(path, plugins)
    return {make_cell(spec, "same-data", {"p": "1"}).key for spec in experiment.cells}


def test_every_documented_key_changes_the_key_or_is_documented_as_applied_afterwards(tmp_path, plugins):
    documented = _documented()
    outside, sections = _not_in_key()
    assert len(documented) >= 35 and "experiment.select_by" in documented and "train.resume_every" in documented
    base = _keys(tmp_path, plugins, {})
    unexplained = []
    for dotted in documented:
        section = dotted.split(".", 1)[0]
        if dotted in outside or section in sections:
            continue
        other = OTHER.get(dotted) or _perturbed_default(dotted)
        if other is None:
            unexplained.append(f"{dotted}: documented, but neither tested here (add a value to OTHER) nor listed "
                               "as outside the key in experiments/README.md")
            continue
        if _keys(tmp_path, plugins, {dotted: other}) == base:
            unexplained.append(f"{dotted}: changing it keeps the cell key")
    assert not unexplained, "\n".join(unexplained)


def test_keys_outside_the_key_really_keep_it(tmp_path, plugins):
    base = _keys(tmp_path, plugins, {})
    for dotted, value in {"experiment.name": '"other"', "experiment.description": '"x"',
                          "experiment.rank_by": '"test.accuracy"'}.items():
        assert _keys(tmp_path, plugins, {dotted: value}) == base, dotted


def test_select_by_changes_the_cell_id(tmp_path, plugins):
    a = _keys(tmp_path, plugins, {"experiment.select_by": '"val.f1_macro"'})
    b = _keys(tmp_path, plugins, {"experiment.select_by": '"val.recall_defect"'})
    assert a.isdisjoint(b)


def test_slugs_keep_the_exponent_sign():
    assert slug("toy lr=1e+300") == "toy-lr-1e300"
    assert slug("toy lr=1e-300") == "toy-lr-1e-300"
    assert slug("toy lr=1E+5 w=2.5e+3 name=e+x") == "toy-lr-1e5-w-2.5e3-name-e-x"
