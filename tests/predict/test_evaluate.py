"""``harness evaluate``: the tiny run's rows scored on another folder dataset, with a leaderboard."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from harness import ConfigError, load_run
from harness.cli import main
from harness.predict import Predictor


@pytest.mark.slow  # a whole leaderboard of nine rows: about 20 s
def test_evaluate_on_a_folder_dataset_writes_a_leaderboard_with_intervals(trained, make_images, tmp_path,
                                                                         monkeypatch):
    run_dir, _, cache = trained
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(cache))
    other = tmp_path / "other"
    make_images(other, {"train": 5, "val": 3, "test": 6}, seed=7)
    runs, boards = tmp_path / "runs", tmp_path / "lb"
    data_file = tmp_path / "other.toml"  # named by its [experiment] name
    data_file.write_text(f'[experiment]\nname = "other"\n\n[dataset]\nplugin = "folder"\nroot = "{other.as_posix()}"\n',
                         encoding="utf-8")
    code = main(["evaluate", str(run_dir), "--data", str(data_file), "--runs-dir", str(runs),
                 "--leaderboards-dir", str(boards)])
    assert code == 0
    board = boards / "tiny@other"
    results = json.loads((board / "results.json").read_text())
    rows = {r["row"]: r for r in results["rows"]}
    assert {"timm arch=resnet10t", "ensemble stack", "timm arch=resnet10t +tta(mean)"} <= set(rows)
    assert (board / "index.html").is_file()

    evaluated = load_run(runs / "tiny@other")
    cell = next(c for c in evaluated.done() if c.row == "timm arch=resnet10t")
    for split, n in (("train", 10), ("val", 6), ("test", 12)):
        frame = evaluated.predictions(cell.id, split)
        assert len(frame) == n
        predicted = frame[["prob_dark", "prob_light"]].to_numpy().argmax(axis=1)
        assert cell.metrics[f"{split}.accuracy"] == pytest.approx(accuracy_score(frame["label"], predicted))
    test = evaluated.predictions(cell.id, "test")
    predicted = test[["prob_dark", "prob_light"]].to_numpy().argmax(axis=1)
    f1 = rows["timm arch=resnet10t"]["metrics"]["test.f1_macro"]
    assert f1["mean"] == pytest.approx(f1_score(test["label"], predicted, average="macro"))
    assert f1["low"] <= f1["mean"] <= f1["high"]  # the bootstrap interval

    tables = sorted(p.name for p in (board / "predictions").iterdir())
    assert len(tables) == 3 * len([r for r in rows.values() if r["cells"]])  # the chance rows have no cells
    name = next(t for t in tables if t.endswith("_train.csv") and t.startswith("timm-arch-resnet10t-")
                and "tta" not in t)
    table = pd.read_csv(board / "predictions" / name, dtype={"sample_id": str})
    assert list(table.columns[:5]) == ["sample_id", "seed", "true_class", "pred_class", "confidence"]
    train = evaluated.predictions(cell.id, "train")
    assert list(table["sample_id"]) == list(train["sample_id"])
    assert list(table["true_class"]) == [("dark", "light")[k] for k in train["label"]]
    predictor = Predictor.from_run(board)  # a leaderboard folder: its top row, traced back to the trained one
    top = next(r["row"] for r in results["rows"] if r["cells"])
    assert predictor.row == top
    (top_cell,) = [c for c in evaluated.done() if c.row == top]
    stored_test = evaluated.predictions(top_cell.id, "test")
    got = predictor.predict([other / s for s in stored_test["sample_id"]])
    np.testing.assert_allclose([[p.probabilities[c] for c in ("dark", "light")] for p in got],
                               stored_test[["prob_dark", "prob_light"]].to_numpy(), atol=1e-5)
    wrong_file = board / "wrong" / name
    if (table["true_class"] != table["pred_class"]).any():
        wrong = pd.read_csv(wrong_file)
        assert len(wrong) == int((table["true_class"] != table["pred_class"]).sum())
        assert np.all(np.diff(wrong["confidence"].to_numpy()) <= 0)  # most confident first


def test_evaluate_refuses_unknown_dataset_options(trained, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[dataset]\nplugin = "folder"\nroot = "x"\nimage_sise = 32\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        from harness.cli import _parser
        from harness.predict.command import cmd_evaluate

        cmd_evaluate(_parser().parse_args(["evaluate", str(trained[0]), "--data", str(bad)]))
    assert any("bad.toml: dataset.image_sise" in line for line in info.value.problems)


def test_inline_dataset_tables_are_parsed_and_named():
    from harness.predict.evaluate import dataset_from_text

    table, name = dataset_from_text('{ plugin = "folder", root = "data/parts", val_ratio = 0.1 }')
    assert table == {"plugin": "folder", "root": "data/parts", "val_ratio": 0.1} and name == "folder-parts"
    with pytest.raises(ConfigError, match="not a TOML inline table"):
        dataset_from_text("plugin = folder")
