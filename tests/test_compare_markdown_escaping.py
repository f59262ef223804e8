"""The Markdown compare report escapes HTML in row names (GitHub renders raw HTML)."""

from __future__ import annotations

import argparse

import numpy as np

from harness import PredictionSet
from harness.compare import add_compare_parser, cmd_compare
from harness.compare.render import markdown_text
from harness.metrics import classification_metrics
from harness.store import atomic_write_json, write_predictions

CLASSES = ("normal", "defect")
EVIL = "<img src=x onerror=alert(1)>"


def _run(root, skill: float):
    labels = np.array([0, 1] * 20)
    rng = np.random.default_rng(int(skill * 10))
    p1 = 1 / (1 + np.exp(-(skill * (2 * labels - 1) + rng.normal(size=40))))
    proba = np.stack([1 - p1, p1], axis=1)
    cell = root / "evil-s0"
    atomic_write_json(cell / "config.json", {"classes": list(CLASSES), "row": EVIL, "seed": 0})
    atomic_write_json(cell / "metrics.json", {f"test.{k}": v for k, v in
                                              classification_metrics(labels, proba, CLASSES).items()})
    write_predictions(cell, "test", PredictionSet(CLASSES, tuple(f"s{i}" for i in range(40)), labels, proba))
    atomic_write_json(cell / "status.json", {"status": "done"})
    return root


def test_row_names_are_escaped_in_markdown(tmp_path):
    a, b = _run(tmp_path / "a", 2.0), _run(tmp_path / "b", 1.0)
    parser = argparse.ArgumentParser(prog="harness")
    add_compare_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "cmp.md"
    cmd_compare(parser.parse_args(["compare", str(a), str(b), "--markdown", str(out), "--resamples", "100"]))
    text = out.read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<img" not in text


def test_markdown_text_escapes_html_pipes_and_newlines():
    assert markdown_text("<b>x</b> | y\nz & w") == "&lt;b&gt;x&lt;/b&gt; \\| y z &amp; w"
