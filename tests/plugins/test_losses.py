"""Loss plugins against hand-worked values, torch's cross-entropy and scikit-learn."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

import harness_train
from harness import HarnessError
from harness.registry import Registry
from harness_train.losses import balanced_class_weights, ce, check_ce, check_focal, focal, weighted_ce


def _registry() -> Registry:
    registry = Registry("loss")
    harness_train.harness_register_losses(registry=registry)
    return registry


def test_registers_the_three_losses_with_checks():
    registry = _registry()
    assert registry.names() == ["ce", "focal", "weighted_ce"]
    assert all(entry.check is not None for entry in registry)


def test_registering_every_plugin_imports_no_torch():
    code = (
        "import sys, harness_train\n"
        "from harness.registry import Registry\n"
        "for kind in ('losses', 'optimizers', 'schedulers'):\n"
        "    getattr(harness_train, 'harness_register_' + kind)(registry=Registry(kind))\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ce_matches_a_hand_worked_value():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1])
    # -log softmax of the true class: log(1 + e^-2) and log(1 + e^-1)
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert ce([5, 5])(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_ce_with_label_smoothing_matches_the_smoothed_target_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    labels = torch.tensor([0])
    log_p = [2.0 - math.log(math.exp(2) + 1 + math.exp(-1))]
    log_p += [0.0 - math.log(math.exp(2) + 1 + math.exp(-1)), -1.0 - math.log(math.exp(2) + 1 + math.exp(-1))]
    target = [0.8 + 0.2 / 3, 0.2 / 3, 0.2 / 3]
    expected = -sum(q * lp for q, lp in zip(target, log_p))
    assert ce([1, 1, 1], label_smoothing=0.2)(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_ce_with_class_weights_matches_torch():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 3, generator=generator)
    labels = torch.randint(0, 3, (16,), generator=generator)
    loss = ce([4, 4, 4], class_weights=[1.0, 2.0, 0.5], label_smoothing=0.1)(logits, labels)
    reference = F.cross_entropy(logits, labels, weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
    torch.testing.assert_close(loss, reference)


def test_balanced_weights_follow_the_formula_and_scikit_learn():
    counts = [6, 2, 4]
    # N = 12, K = 3: w_k = 12 / (3 n_k)
    assert balanced_class_weights(counts) == pytest.approx([12 / 18, 12 / 6, 12 / 12])
    labels = [k for k, n in enumerate(counts) for _ in range(n)]
    reference = compute_class_weight("balanced", classes=torch.arange(3).numpy(), y=labels)
    assert balanced_class_weights(counts) == pytest.approx(list(reference))


def test_weighted_ce_is_weighted_cross_entropy_with_balanced_weights():
    logits = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    labels = torch.tensor([0, 1, 1])
    loss = weighted_ce([9, 3])(logits, labels)
    w = [12 / 18, 12 / 6]  # N=12, K=2
    nll = [math.log(1 + math.exp(-1)), math.log(1 + math.exp(-2)), math.log(2)]
    expected = (w[0] * nll[0] + w[1] * nll[1] + w[1] * nll[2]) / (w[0] + 2 * w[1])
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_weighted_ce_refuses_an_empty_class():
    with pytest.raises(HarnessError, match="class index \\[1\\] has no sample"):
        weighted_ce([10, 0, 3])


@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_focal_with_gamma_zero_and_no_alpha_is_cross_entropy(smoothing):
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(32, 4, generator=generator, dtype=torch.float64) * 3
    labels = torch.randint(0, 4, (32,), generator=generator)
    loss = focal([1, 1, 1, 1], gamma=0.0, label_smoothing=smoothing)(logits, labels)
    reference = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    torch.testing.assert_close(loss, reference, rtol=1e-12, atol=1e-12)


def test_focal_down_weights_easy_examples():
    # softmax of log-probabilities gives back p = (0.9, 0.1)
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.9, 0.1]]))
    loss = focal([1, 1], gamma=2.0)
    easy = loss(logits[:1], torch.tensor([0])).item()
    hard = loss(logits[1:], torch.tensor([1])).item()
    assert easy == pytest.approx(0.1**2 * -math.log(0.9), rel=1e-5)  # 0.0010536
    assert hard == pytest.approx(0.9**2 * -math.log(0.1), rel=1e-5)  # 1.8651
    # relative to cross-entropy the easy sample loses 99%, the hard one 19%
    assert easy / -math.log(0.9) == pytest.approx(0.01, rel=1e-4)
    assert hard / -math.log(0.1) == pytest.approx(0.81, rel=1e-4)


def test_focal_alpha_float_weights_class_one_and_list_weights_each_class():
    logits = torch.log(torch.tensor([[0.7, 0.3], [0.2, 0.8]]))
    labels = torch.tensor([0, 1])
    per_sample = [0.3**2 * -math.log(0.7), 0.2**2 * -math.log(0.8)]
    binary = focal([5, 5], gamma=2.0, alpha=0.25)(logits, labels).item()
    assert binary == pytest.approx((0.75 * per_sample[0] + 0.25 * per_sample[1]) / 2, rel=1e-5)
    listed = focal([5, 5], gamma=2.0, alpha=[2.0, 0.5])(logits, labels).item()
    assert listed == pytest.approx((2.0 * per_sample[0] + 0.5 * per_sample[1]) / 2, rel=1e-5)


def test_focal_with_label_smoothing_applies_the_factor_per_class():
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]]))
    q = [0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3]
    p = [0.6, 0.3, 0.1]
    expected = sum(qk * (1 - pk) ** 1.5 * -math.log(pk) for qk, pk in zip(q, p))
    loss = focal([1, 1, 1], gamma=1.5, label_smoothing=0.1)(logits, torch.tensor([0]))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_focal_gradient_stays_finite_on_a_confident_sample():
    logits = torch.tensor([[60.0, 0.0], [0.0, 1.0]], requires_grad=True)
    focal([1, 1], gamma=0.5)(logits, torch.tensor([0, 1])).backward()
    assert torch.isfinite(logits.grad).all()


def test_focal_alpha_must_fit_the_classes():
    with pytest.raises(HarnessError, match="two classes"):
        focal([1, 1, 1], alpha=0.25)
    with pytest.raises(HarnessError, match="alpha has 2 values but the dataset has 3 classes"):
        focal([1, 1, 1], alpha=[0.5, 0.5])


def test_checks_report_unknown_keys_and_bad_values():
    problems = dict(check_focal({"gama": 2.0, "label_smoothing": 1.0, "alpha": "high"}))
    assert set(problems) == {"gama", "label_smoothing", "alpha"}
    assert "Did you mean 'gamma'?" in problems["gama"]
    assert "< 1" in problems["label_smoothing"]
    assert check_focal({"gamma": 0, "alpha": [0.3, 0.7], "name": "focal"}) == []
    assert [key for key, _ in check_ce({"class_weights": [0, 0]})] == ["class_weights"]
    assert [key for key, _ in check_ce({"class_weights": [1, -1]})] == ["class_weights"]
    assert _registry().entry("weighted_ce").check({"class_weights": [1, 2]})[0][0] == "class_weights"


def test_factories_raise_on_the_problems_check_reports():
    with pytest.raises(HarnessError, match="gamma"):
        focal([1, 1], gamma=-1.0)
    with pytest.raises(HarnessError, match="class_weights has 2 values"):
        ce([1, 1, 1], class_weights=[1.0, 2.0])
