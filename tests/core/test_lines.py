from __future__ import annotations

from harness.config.lines import LineIndex

TEXT = """\
[experiment]
name = "x"   # comment
seeds = [0,
  1]

[train]
optimizer = { name = "adam", lr = 1e-3 }
scheduler.name = "cosine"

[[matrix.model]]
plugin = "timm"
arch = ["a", "b"]

[[matrix.model]]
plugin = "cats"
"patch_size" = 16
"""


def test_lines_of_keys_tables_and_inline_tables():
    index = LineIndex(TEXT)
    assert index.line("experiment") == 1
    assert index.line("experiment.name") == 2
    assert index.line("experiment.seeds") == 3
    assert index.line("train.optimizer") == 7
    assert index.line("train.optimizer.lr") == 7
    assert index.line("train.scheduler.name") == 8
    assert index.line("matrix.model[0]") == 10
    assert index.line("matrix.model[0].arch") == 12
    assert index.line("matrix.model[1].plugin") == 15
    assert index.line("matrix.model[1].patch_size") == 16


def test_unknown_path_falls_back_to_nearest_ancestor():
    index = LineIndex(TEXT)
    assert index.line("matrix.model[1].nonexistent") == 14
    assert index.line("train.epochs") == 6
    assert index.line("nothing.at.all") == 1
