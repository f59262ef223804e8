"""The package's own tests: harness.testing's contract tests over what it registers."""

from __future__ import annotations

from harness.testing import (
    ensemble_contract_tests,
    model_contract_tests,
    scheduler_contract_tests,
    tta_merge_contract_tests,
    tta_view_contract_tests,
)

test_models = model_contract_tests(["toy-cnn"])
test_ensembles = ensemble_contract_tests(["toy-median"], options={"toy-median": {"floor": 0.05}})
test_tta_views = tta_view_contract_tests(["toy-invert"])
test_tta_merges = tta_merge_contract_tests(["toy-median"])
test_schedulers = scheduler_contract_tests(["toy-square-cycles"])
