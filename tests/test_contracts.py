"""Every registered plugin, built-in or third-party, passes the shipped contract tests."""

from __future__ import annotations

from harness.testing import (
    dataset_contract_tests,
    ensemble_contract_tests,
    loss_contract_tests,
    metric_contract_tests,
    model_contract_tests,
    optimizer_contract_tests,
    scheduler_contract_tests,
    tta_merge_contract_tests,
    tta_view_contract_tests,
)

# one-class models (harness.OneClassModel) are fitted on normal images of two classes, not trained on logits
test_models = model_contract_tests(exclude=("toy-exploding", "anomalib"))
# the file-based datasets need a tree on disk: tests/datasets builds one per layout and runs the same check
test_datasets = dataset_contract_tests(exclude=("csv", "folder", "defect-folder", "mvtec", "visa", "btad",
                                                "custom-metadata"))
test_losses = loss_contract_tests()
test_optimizers = optimizer_contract_tests()
test_schedulers = scheduler_contract_tests()
test_metrics = metric_contract_tests()
test_ensembles = ensemble_contract_tests()
test_tta_views = tta_view_contract_tests()
test_tta_merges = tta_merge_contract_tests()
