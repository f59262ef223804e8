"""Train-split metrics each epoch on a fixed subset, per-class loss and accuracy, checked
against scikit-learn on the stored predictions of the selected epoch."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score

from harness import load_run
from harness.config import load_experiment
from harness.data import Split
from harness.runner import run_experiment
from harness.train.train_eval import train_subset

MODEL = """
[[matrix.model]]
plugin = "toy-cnn"
"""


def _split(n: int) -> Split:
    rng = np.random.default_rng(0)
    return Split(rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8), np.arange(n) % 3,
                 tuple(f"s{i:03d}" for i in range(n)), meta=tuple({"i": i} for i in range(n)))


def test_the_subset_is_fixed_by_the_seed_and_keeps_split_order():
    split = _split(50)
    a, b, other = train_subset(split, 20, 7), train_subset(split, 20, 7), train_subset(split, 20, 8)
    assert a.sample_ids == b.sample_ids and a.sample_ids != other.sample_ids
    assert len(a) == 20 and list(a.sample_ids) == sorted(a.sample_ids) and len(set(a.sample_ids)) == 20
    index = [split.sample_ids.index(s) for s in a.sample_ids]
    assert np.array_equal(a.images, split.images[index]) and np.array_equal(a.labels, split.labels[index])
    assert [m["i"] for m in a.meta] == index
    assert train_subset(split, 50, 0) is split and train_subset(split, 5000, 0) is split
    assert train_subset(split, 0, 0) is None


def _run(tiny_experiment, plugins, tmp_path, name: str, samples: int):
    path = tiny_experiment(MODEL, name=name, epochs=2, train=f"train_eval_samples = {samples}")
    experiment = load_experiment(path, plugins)
    _, root = run_experiment(experiment, plugins, runs_dir=tmp_path / "runs", show_progress=False, echo=lambda _: None)
    run = load_run(root)
    (cell,) = run.cells.values()
    assert cell.status == "done", cell.reason
    return run, cell


def test_history_holds_train_subset_and_per_class_metrics_equal_to_sklearn(tiny_experiment, plugins, tmp_path):
    run, cell = _run(tiny_experiment, plugins, tmp_path, "traineval", 20)
    classes = cell.classes
    assert [h["epoch"] for h in cell.history] == [1, 2]
    for entry in cell.history:
        for split in ("train_eval", "val"):
            for key in ("loss", "accuracy", "f1_macro", *(f"{m}_{c}" for m in ("accuracy", "loss") for c in classes)):
                assert np.isfinite(entry[f"{split}.{key}"]), (split, key)
    selected = cell.history[int(cell.metrics["best_epoch"]) - 1]
    for split, prefix, n in (("train", "train_eval", 20), ("val", "val", 16)):
        frame = run.predictions(cell.id, split)
        assert len(frame) == n
        labels = frame["label"].to_numpy()
        proba = frame[[f"prob_{c}" for c in classes]].to_numpy()
        proba = proba / proba.sum(axis=1, keepdims=True)  # stored float32 softmax: sums differ from 1 by ~1e-8
        predicted = proba.argmax(axis=1)
        # the selected weights score the same samples as that epoch did
        assert selected[f"{prefix}.accuracy"] == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)
        assert selected[f"{prefix}.f1_macro"] == pytest.approx(
            f1_score(labels, predicted, average="macro", labels=range(len(classes)), zero_division=0), abs=1e-12)
        assert selected[f"{prefix}.loss"] == pytest.approx(log_loss(labels, proba, labels=range(len(classes))), rel=1e-5)
        recalls = recall_score(labels, predicted, average=None, labels=range(len(classes)), zero_division=0)
        for k, name in enumerate(classes):
            assert selected[f"{prefix}.accuracy_{name}"] == pytest.approx(recalls[k], abs=1e-12)
            mine = labels == k
            expected = log_loss(labels[mine], proba[mine], labels=range(len(classes)))
            assert selected[f"{prefix}.loss_{name}"] == pytest.approx(expected, rel=1e-5)
    train_ids = set(run.predictions(cell.id, "train")["sample_id"])
    assert not train_ids & set(run.predictions(cell.id, "val")["sample_id"])  # the subset is of the training split


def test_scoring_the_subset_leaves_the_trained_weights_alone(tiny_experiment, plugins, tmp_path):
    _, with_eval = _run(tiny_experiment, plugins, tmp_path, "with", 20)
    _, without = _run(tiny_experiment, plugins, tmp_path, "without", 0)
    a = load_file(with_eval.path / "checkpoint.safetensors")
    b = load_file(without.path / "checkpoint.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert with_eval.metrics["test.f1_macro"] == without.metrics["test.f1_macro"]
    assert [h["val.loss"] for h in with_eval.history] == [h["val.loss"] for h in without.history]
    assert not any(k.startswith("train_eval") for h in without.history for k in h)
    assert not (without.path / "predictions_train.csv").exists()
    assert "val.accuracy_normal" in without.history[0]  # per-class validation scores either way


def test_train_eval_samples_is_validated(tiny_experiment, plugins):
    from harness.errors import ConfigError

    path = tiny_experiment(MODEL, name="bad", train="train_eval_samples = -1")
    with pytest.raises(ConfigError, match="train.train_eval_samples: must be >= 0"):
        load_experiment(path, plugins)
