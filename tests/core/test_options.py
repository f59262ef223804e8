"""harness.options: typed plugin options, one wording for every plugin."""

from __future__ import annotations

import math

import pytest

from harness import HarnessError
from harness import options as opt

BLOCK = opt.Options(
    "ensemble 'demo'",
    extra=lambda o: [opt.Problem("high", "must be above low")] if o.get("high", 1) <= o.get("low", 0) else [],
    low=opt.Int(0, min=0),
    high=opt.Int(1, min=1),
    rate=opt.Float(0.1, gt=0, lt=1),
    mode=opt.Choice("mean", "median", default="mean"),
    sizes=opt.List(opt.Int(min=1), min_items=2, max_items=2, nullable=True),
    path=opt.Str(opt.REQUIRED),
)


def test_values_are_checked_against_type_and_bounds():
    problems = dict(BLOCK.check({"path": "x", "low": True, "high": 0, "rate": math.nan, "mode": "medain",
                                 "sizes": [3, 0]}))
    assert problems == {
        "low": "must be an integer >= 0, got True",  # a TOML bool is no count
        "high": "must be a positive integer, got 0",
        "rate": "must be a number > 0 and < 1, got nan",
        "mode": "must be one of 'mean', 'median', got 'medain'. Did you mean 'median'?",
        "sizes": "item 2: must be a positive integer, got 0",
    }
    assert BLOCK.check({"path": "x", "sizes": [1, 2, 3]}) == [
        ("sizes", "must be a list of exactly 2 items of a positive integer, got [1, 2, 3]")]
    assert BLOCK.check({"path": "x", "sizes": None}) == []  # nullable


def test_unknown_and_missing_keys_have_one_wording_in_the_order_given():
    problems = BLOCK.check({"rte": 0.5, "high": 0, "lwo": 1})
    assert [p.key for p in problems] == ["rte", "high", "lwo", "path"]
    assert problems[0].message == ("unknown option of ensemble 'demo'. Did you mean 'rate'? "
                                   "Allowed: high, low, mode, path, rate, sizes")
    assert problems[3].message == "is required by ensemble 'demo' (a string)"
    assert opt.unknown_keys({"zzz": 1}, ["a"], "x") == [("zzz", "unknown option of x. Allowed: a")]
    assert opt.did_you_mean("widht", ["width", "height"]) == " Did you mean 'width'?"


def test_rules_across_options_wait_for_well_typed_values_but_not_for_unknown_keys():
    assert BLOCK.check({"path": "x", "low": 3, "high": 2}) == [("high", "must be above low")]
    assert [p.key for p in BLOCK.check({"path": "x", "low": 3, "high": 2, "typo": 1})] == ["typo", "high"]
    assert [p.key for p in BLOCK.check({"path": "x", "low": 3, "high": 2, "rate": 5})] == ["rate"]


def test_resolve_fills_defaults_and_raises_every_problem():
    assert BLOCK.resolve({"path": "p", "low": 2, "high": 3}) == {
        "low": 2, "high": 3, "rate": 0.1, "mode": "mean", "sizes": None, "path": "p"}
    with pytest.raises(HarnessError, match=r"ensemble 'demo': rate: must be .*; path: is required"):
        BLOCK.resolve({"rate": 2})


def test_open_blocks_pass_unknown_keys_through_and_extensions_keep_the_rest():
    forwarding = opt.Options("model 'lib'", open=True, size=opt.Int(3, min=1))
    assert forwarding.check({"anything": [1]}) == []
    assert forwarding.resolve({"anything": 1}) == {"size": 3, "anything": 1}
    wider = BLOCK.with_options(extra_flag=opt.Bool(False))
    assert "extra_flag" in wider and "low" in wider and wider.what == BLOCK.what
    assert wider.check({"path": "x", "extra_flag": "yes"}) == [("extra_flag", "must be true or false, got 'yes'")]


def test_docs_describe_every_option():
    lines = BLOCK.docs()
    assert lines[0] == "low: an integer >= 0 (default 0)"
    assert "path: a string (required)" in lines
    assert opt.is_int(3) and not opt.is_int(True) and not opt.is_int(3.0)
    assert opt.is_number(2.5) and not opt.is_number(math.inf) and not opt.is_number(False)
