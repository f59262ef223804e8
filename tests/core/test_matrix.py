from __future__ import annotations

from harness.matrix import expand, flatten, make_cell, row_label

BASE = {"dataset": {"plugin": "synthetic-defects", "image_size": 32}, "train": {"epochs": 2}}


def blocks(*models, train=()):
    out = {"model": [(m, f"matrix.model[{i}]") for i, m in enumerate(models)]}
    if train:
        out["train"] = [(t, f"matrix.train[{i}]") for i, t in enumerate(train)]
    return out


def test_cartesian_product_blocks_and_seeds():
    cells = expand(BASE, blocks({"plugin": "timm", "arch": ["a", "b"], "drop_rate": [0.0, 0.1]},
                                {"plugin": "cats"}), [0, 1])
    assert len(cells) == (4 + 1) * 2
    combos = {(c.config["model"].get("arch"), c.config["model"].get("drop_rate"), c.config["seed"]) for c in cells}
    assert ("a", 0.1, 1) in combos and ("b", 0.0, 0) in combos and (None, None, 1) in combos
    first = cells[0]
    assert first.axes == {"model.arch": "a", "model.drop_rate": 0.0, "seed": 0}
    assert first.config["train"] == {"epochs": 2}


def test_train_section_axes_override_base():
    cells = expand(BASE, blocks({"plugin": "timm", "arch": "a"}, train=[{"epochs": [1, 3]}]), [0])
    assert [c.config["train"]["epochs"] for c in cells] == [1, 3]
    assert cells[1].axes == {"train.epochs": 3, "seed": 0}


def test_exclude_removes_matching_cells():
    cells = expand(BASE, blocks({"plugin": "timm", "arch": ["a", "b"]}), [0, 1],
                   exclude=[{"model": {"arch": "b"}, "seed": 1}])
    assert sorted((c.config["model"]["arch"], c.config["seed"]) for c in cells) == [("a", 0), ("a", 1), ("b", 0)]


def test_include_extends_matching_cells_or_adds_new_ones():
    cells = expand(BASE, blocks({"plugin": "timm", "arch": ["a", "b"]}), [0],
                   include=[{"model": {"arch": "a", "drop_rate": 0.2}},
                            {"model": {"plugin": "cats", "patch_size": 8}}])
    by_arch = {c.config["model"].get("arch"): c for c in cells}
    assert by_arch["a"].config["model"]["drop_rate"] == 0.2
    assert "drop_rate" not in by_arch["b"].config["model"]
    assert by_arch[None].config["model"] == {"plugin": "cats", "patch_size": 8}
    assert by_arch[None].config["train"] == {"epochs": 2}
    assert len(cells) == 3


def test_ids_readable_unique_and_hash_sensitive():
    cells = expand(BASE, blocks({"plugin": "timm", "arch": ["convnext_atto", "b"]}), [0, 1])
    made = [make_cell(c, "fp1", {"harness_timm": "0.1"}) for c in cells]
    assert len({m.id for m in made}) == 4
    assert made[0].id.startswith("timm-arch-convnext_atto-s0-")
    assert made[0].row == "timm arch=convnext_atto" == row_label(cells[0])
    assert made[0].row_key == made[1].row_key  # same configuration, other seed
    assert made[0].row_key != made[2].row_key
    assert make_cell(cells[0], "fp2", {"harness_timm": "0.1"}).key != made[0].key
    assert make_cell(cells[0], "fp1", {"harness_timm": "0.2"}).key != made[0].key
    assert make_cell(cells[0], "fp1", {"harness_timm": "0.1"}) == made[0]


def test_flatten_one_level():
    assert flatten({"model": {"arch": "x", "opts": {"a": 1}}, "seed": 3}) == {
        "model.arch": "x", "model.opts": {"a": 1}, "seed": 3}
