"""A failed cell's reason: whole in status.json, one readable line on the terminal."""

from __future__ import annotations

import json

from harness.errors import SHOWN_REASON, short_reason
from harness.isolation import record_failure


def test_short_reasons_are_shown_as_they_are():
    assert short_reason("RuntimeError: toy model exploded on purpose", "x/status.json") == \
        "RuntimeError: toy model exploded on purpose"


def test_long_reason_is_cut_and_names_where_the_rest_is(tmp_path):
    names = ", ".join(f"blocks.{i}.conv.weight" for i in range(400))  # as safetensors lists shared tensors
    reason = f"RuntimeError: Some tensors share memory: [{names}]\nA potential way to correctly save your model is"
    lines: list[str] = []
    recorded = record_failure(tmp_path, {"id": "cell"}, RuntimeError(reason.split(": ", 1)[1]), "[1/1] cell",
                              lines.append)
    assert recorded == reason
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "failed" and status["reason"] == reason  # nothing lost on disk
    (line,) = lines
    assert "\n" not in line and len(line) < SHOWN_REASON + 120
    assert line.startswith("[1/1] cell: FAILED: RuntimeError: Some tensors share memory: [blocks.0.conv.weight")
    assert line.endswith(f" ... (the whole reason: {tmp_path / 'status.json'})")


def test_multi_line_reason_keeps_its_first_line():
    assert short_reason("ValueError: bad shape\n  at layer 3", "s.json") == \
        "ValueError: bad shape (the whole reason: s.json)"
    assert short_reason("ValueError: bad shape\n  at layer 3") == "ValueError: bad shape"
