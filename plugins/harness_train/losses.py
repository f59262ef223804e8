"""Loss plugins: ``ce``, ``weighted_ce`` and ``focal``.

Every factory is called as ``factory(class_counts, **options)`` with the train split's
count per class and returns a module ``loss(logits [B, K], labels [B]) -> scalar``.
"""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Any

from harness import HarnessError
from harness_train.options import Problem, check_options, either, number, numbers, raise_problems

if TYPE_CHECKING:
    from torch import nn

_SMOOTHING = number(low=0.0, high=1.0, high_open=True)
_WEIGHTS = numbers(number(low=0.0))

CE_SPEC = {"label_smoothing": _SMOOTHING, "class_weights": _WEIGHTS}
WEIGHTED_CE_SPEC = {"label_smoothing": _SMOOTHING}
FOCAL_SPEC = {
    "gamma": number(low=0.0),
    "alpha": either(
        number(low=0.0, high=1.0),
        _WEIGHTS,
        expected="a number in [0, 1] (two classes) or a list of non-negative numbers, one per class",
    ),
    "label_smoothing": _SMOOTHING,
}


def check_ce(options: dict[str, Any]) -> list[Problem]:
    """Problems with the options of ``ce``: unknown keys, bad values, all-zero weights."""
    problems = check_options(options, CE_SPEC, what="loss 'ce'")
    weights = options.get("class_weights")
    weights_ok = "class_weights" in options and not any(key == "class_weights" for key, _ in problems)
    if weights_ok and weights is not None and not any(weights):
        # every sample would weigh nothing and the weighted mean would be 0 / 0
        problems.append(("class_weights", "must not all be zero"))
    return problems


def check_weighted_ce(options: dict[str, Any]) -> list[Problem]:
    """Problems with the options of ``weighted_ce``."""
    return check_options(options, WEIGHTED_CE_SPEC, what="loss 'weighted_ce'")


def check_focal(options: dict[str, Any]) -> list[Problem]:
    """Problems with the options of ``focal``."""
    return check_options(options, FOCAL_SPEC, what="loss 'focal'")


def _class_total(class_counts: list[int]) -> int:
    """Number of classes, after checking the counts are non-negative integers."""
    if not class_counts or any(isinstance(c, bool) or not isinstance(c, Integral) or c < 0 for c in class_counts):
        raise HarnessError(f"class counts must be a non-empty list of non-negative integers, got {class_counts!r}")
    return len(class_counts)


def balanced_class_weights(class_counts: list[int]) -> list[float]:
    """Inverse-frequency class weights ``w_k = N / (K * n_k)``.

    ``N`` is the number of training samples and ``K`` the number of classes, so the
    weights average to 1 over the training samples (``sum_k n_k * w_k = N``) and a
    balanced split gets all ones. This is scikit-learn's ``"balanced"`` weighting.

    Args:
        class_counts: train samples per class.

    Returns:
        One weight per class.

    Raises:
        HarnessError: a class has no training sample, so its weight is undefined.
    """
    k = _class_total(class_counts)
    empty = [i for i, n in enumerate(class_counts) if n == 0]
    if empty:
        raise HarnessError(
            f"weighted_ce needs every class in the train split, but class index {empty} has no sample "
            f"(counts: {class_counts}); use loss 'ce' or fix the split"
        )
    total = sum(class_counts)
    return [total / (k * n) for n in class_counts]


def ce(class_counts: list[int], **options: Any) -> nn.Module:
    """Cross-entropy.

    Args:
        class_counts: train samples per class (gives the number of classes).
        **options: ``label_smoothing`` (0.0) and ``class_weights`` (one per class).

    Returns:
        A ``CrossEntropy`` module.
    """
    raise_problems(check_ce(options), what="loss 'ce'")
    k = _class_total(class_counts)
    weights = options.get("class_weights")
    if weights is not None and len(weights) != k:
        raise HarnessError(f"loss 'ce': class_weights has {len(weights)} values but the dataset has {k} classes")
    from harness_train.loss_modules import CrossEntropy

    weight = None if weights is None else [float(w) for w in weights]
    return CrossEntropy(weight=weight, label_smoothing=options.get("label_smoothing") or 0.0)


def weighted_ce(class_counts: list[int], **options: Any) -> nn.Module:
    """Cross-entropy weighted by inverse class frequency (see :func:`balanced_class_weights`).

    Args:
        class_counts: train samples per class.
        **options: ``label_smoothing`` (0.0).

    Returns:
        A ``CrossEntropy`` module with the balanced weights.
    """
    raise_problems(check_weighted_ce(options), what="loss 'weighted_ce'")
    weights = balanced_class_weights(class_counts)
    from harness_train.loss_modules import CrossEntropy

    return CrossEntropy(weight=weights, label_smoothing=options.get("label_smoothing") or 0.0)


def _focal_alpha(alpha: Any, k: int) -> list[float] | None:
    """Per-class alpha from the option: None, a float for two classes, or a list."""
    if alpha is None:
        return None
    if isinstance(alpha, list | tuple):
        if len(alpha) != k:
            raise HarnessError(f"loss 'focal': alpha has {len(alpha)} values but the dataset has {k} classes")
        return [float(a) for a in alpha]
    if k != 2:
        raise HarnessError(
            f"loss 'focal': a single alpha only makes sense for two classes (the dataset has {k}); "
            "give one value per class instead"
        )
    # Lin et al.'s convention: alpha weights the positive class (index 1, e.g. "defect").
    return [1.0 - float(alpha), float(alpha)]


def focal(class_counts: list[int], **options: Any) -> nn.Module:
    """Multi-class focal loss.

    Args:
        class_counts: train samples per class (gives the number of classes).
        **options: ``gamma`` (2.0); ``alpha`` (None; a float weights class 1 by alpha and
            class 0 by 1 - alpha for two classes, a list gives one weight per class);
            ``label_smoothing`` (0.0).

    Returns:
        A ``FocalLoss`` module.
    """
    raise_problems(check_focal(options), what="loss 'focal'")
    alpha = _focal_alpha(options.get("alpha"), _class_total(class_counts))
    from harness_train.loss_modules import FocalLoss

    gamma = options.get("gamma")
    return FocalLoss(
        gamma=2.0 if gamma is None else gamma,
        alpha=alpha,
        label_smoothing=options.get("label_smoothing") or 0.0,
    )


def register(registry: Any) -> None:
    """Register every loss of this module into ``registry``."""
    registry.register("ce", ce, description="cross-entropy (label_smoothing, class_weights)", check=check_ce)
    registry.register(
        "weighted_ce",
        weighted_ce,
        description="cross-entropy with inverse-frequency class weights N/(K*n_k)",
        check=check_weighted_ce,
    )
    registry.register("focal", focal, description="focal loss (gamma, alpha, label_smoothing)", check=check_focal)
