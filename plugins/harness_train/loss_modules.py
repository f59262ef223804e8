"""The torch modules behind the loss plugins. Imported only when a loss is built."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (1 - p) is floored here before the focal power: with 0 < gamma < 1 the power's
# gradient is infinite at 0, and a confident sample would turn the batch's gradient NaN.
_FLOOR = 1e-12


def _as_buffer(values: list[float] | None) -> torch.Tensor | None:
    return None if values is None else torch.tensor(values, dtype=torch.float32)


class CrossEntropy(nn.Module):
    """Mean cross-entropy, optionally class-weighted and label-smoothed.

    With weights, the mean is weighted (divided by the summed weights of the batch's
    labels), as in ``torch.nn.functional.cross_entropy``.

    Args:
        weight: one weight per class, or None.
        label_smoothing: in [0, 1).
    """

    def __init__(self, weight: list[float] | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("weight", _as_buffer(weight))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of ``logits`` ``[B, K]`` against integer ``labels`` ``[B]``; a scalar."""
        weight = None if self.weight is None else self.weight.to(logits.device, logits.dtype)
        return F.cross_entropy(logits, labels, weight=weight, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}"


class FocalLoss(nn.Module):
    """Multi-class focal loss (Lin et al., 2017) with optional label smoothing.

    For a sample with class probabilities ``p`` and target distribution ``q`` (one-hot,
    or smoothed to ``(1 - s) * onehot + s / K``) the loss is
    ``sum_k alpha_k * q_k * (1 - p_k) ** gamma * -log(p_k)``, averaged over the batch.
    With ``gamma = 0`` and no ``alpha`` this is exactly cross-entropy with the same
    label smoothing.

    Args:
        gamma: focusing parameter, >= 0; larger values down-weight easy samples more.
        alpha: one weight per class, or None for no class weighting.
        label_smoothing: in [0, 1).
    """

    def __init__(self, gamma: float = 2.0, alpha: list[float] | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.gamma = float(gamma)
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("alpha", _as_buffer(alpha))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of ``logits`` ``[B, K]`` against integer ``labels`` ``[B]``; a scalar."""
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the power and log lose too much in half precision
        log_p = F.log_softmax(logits, dim=-1)  # [B, K]
        num_classes = logits.shape[-1]
        target = F.one_hot(labels, num_classes).to(log_p.dtype)  # [B, K]
        if self.label_smoothing:
            target = target * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        modulating = (1.0 - log_p.exp()).clamp_min(_FLOOR).pow(self.gamma)  # [B, K]
        per_class = -target * modulating * log_p  # [B, K]
        if self.alpha is not None:
            per_class = per_class * self.alpha.to(log_p.device, log_p.dtype)
        return per_class.sum(dim=-1).mean()

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, label_smoothing={self.label_smoothing}"
