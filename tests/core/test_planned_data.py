"""Planning without building datasets, and leaving an unchanged leaderboard alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import load_experiment
from harness.data import Dataset
from harness.leaderboard.stamp import STAMP_FILE, inputs_stamp, unchanged, write_stamp
from harness.planned_data import dataset_facts, record_path
from harness.runner import plan
from harness_datasets import embedded

OPTIONS = {"plugin": "synthetic-defects", "image_size": 24, "n_train": 8, "n_val": 4, "n_test": 4, "seed": 3}


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _build(config: dict) -> Dataset:
    built.append(config)
    return embedded.synthetic_defects(**{k: v for k, v in config.items() if k != "plugin"})


built: list[dict] = []


def test_the_cheap_fingerprint_is_the_built_one() -> None:
    for options in (OPTIONS, {**OPTIONS, "defect_ratio": 0.25}, {"n_train": 6, "n_val": 4, "n_test": 4}):
        data = embedded.synthetic_defects(**{k: v for k, v in options.items() if k != "plugin"})
        assert embedded.fingerprint(options) == data.fingerprint
    assert embedded.fingerprint(OPTIONS) != embedded.fingerprint({**OPTIONS, "seed": 4})


def test_second_plan_builds_nothing() -> None:
    built.clear()
    first = dataset_facts(OPTIONS, _build, embedded.fingerprint)
    assert len(built) == 1 and isinstance(first.built, Dataset)
    assert first.size == (24, 24) and first.fingerprint == first.built.fingerprint
    assert json.loads(record_path(first.fingerprint).read_text())["size"] == [24, 24]
    again = dataset_facts(OPTIONS, _build, embedded.fingerprint)
    assert len(built) == 1 and again.built is None
    assert (again.fingerprint, again.size) == (first.fingerprint, first.size)
    without = dataset_facts(OPTIONS, _build, None)  # a plugin without a cheap fingerprint is built
    assert len(built) == 2 and without.fingerprint == first.fingerprint


def test_a_broken_record_means_a_build() -> None:
    built.clear()
    fingerprint = dataset_facts(OPTIONS, _build, embedded.fingerprint).fingerprint
    record_path(fingerprint).write_text("{not json")
    assert dataset_facts(OPTIONS, _build, embedded.fingerprint).built is not None
    assert len(built) == 2


def test_plan_gives_the_same_cells_and_builds_on_first_use(tiny_experiment, plugins) -> None:
    path = tiny_experiment("""
        [[matrix.model]]
        plugin = "toy-cnn"
        """, seeds="[0, 1]")
    experiment = load_experiment(path, plugins)
    first = plan(experiment, plugins)
    assert len(first.datasets) == 1  # built once to learn its size, and kept for the cells
    second = plan(experiment, plugins)
    assert len(second.datasets) == 0  # nothing built
    assert [c.id for c in second.cells] == [c.id for c in first.cells]
    key = second.dataset_of[second.cells[0].id]
    data = second.datasets[key]  # built when a cell asks for it
    assert isinstance(data, Dataset) and data.fingerprint == first.datasets[key].fingerprint
    assert second.datasets[key] is data


def test_stamp_changes_with_any_input(tmp_path: Path) -> None:
    root, out = tmp_path / "run", tmp_path / "lb"
    (root / "cell-a").mkdir(parents=True)
    (root / "cell-a" / "metrics.json").write_text('{"test.accuracy": 0.5}')
    (root / "run.json").write_text("{}")
    out.mkdir()
    for name in ("index.html", "results.json", "results.csv"):
        (out / name).write_text("x")
    settings = {"rank_by": "test.accuracy"}
    stamp = inputs_stamp(root, ["cell-a"], settings)
    assert unchanged(out, stamp) is None  # nothing recorded yet
    write_stamp(out, stamp, "the table")
    assert unchanged(out, stamp).text == "the table"
    assert inputs_stamp(root, ["cell-a"], {"rank_by": "test.f1_macro"}) != stamp
    assert inputs_stamp(root, ["cell-a", "cell-b"], settings) != stamp
    (root / "cell-a" / "metrics.json").write_text('{"test.accuracy": 0.75}')
    assert inputs_stamp(root, ["cell-a"], settings) != stamp
    (out / "index.html").unlink()
    assert unchanged(out, stamp) is None  # a missing page is drawn again
    (out / STAMP_FILE).write_text("[]")
    assert unchanged(out, stamp) is None
