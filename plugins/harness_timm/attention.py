"""``convnext-attention``: ConvNeXt features pooled by a learnable attention query.

Global average pooling weighs every position of the feature grid alike; here one
learnable query attends over the grid's tokens with multi-head attention, so the model
chooses where to look, and the weights it gives each position are returned as a map
the leaderboard can overlay on the image.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness import HarnessError


class AttentionPoolHead(nn.Module):
    """Attention pooling of a feature grid, then a linear classifier.

    Args:
        dim: channels of the feature grid.
        num_classes: outputs of the classifier.
        heads: attention heads; must divide ``dim``.
        dropout: dropout on the attention weights and before the classifier.
    """

    def __init__(self, dim: int, num_classes: int, heads: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        # ConvNeXt's last stage is not normalised (timm normalises after pooling), so
        # tokens are normalised here before keys and values are taken from them.
        self.norm = nn.LayerNorm(dim)
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes)  # registered last: the classifier is the last Linear

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[B, K]`` and the attention over the grid ``[B, h, w]`` (sums to 1)."""
        b, _, h, w = features.shape
        tokens = self.norm(features.flatten(2).transpose(1, 2))  # [B, h*w, C]
        # repeat, not expand: under no_grad a view of a parameter still requires grad
        # with no grad_fn, which breaks module hooks such as the FLOP counter's.
        query = self.query.repeat(b, 1, 1)  # [B, 1, C]
        pooled, weights = self.attn(query, tokens, tokens, need_weights=True, average_attn_weights=True)
        logits = self.fc(self.drop(pooled[:, 0]))  # pooled [B, 1, C] -> logits [B, K]
        return logits, weights[:, 0].reshape(b, h, w)  # weights [B, 1, h*w], averaged over heads


class ConvNeXtAttention(nn.Module):
    """A timm ConvNeXt trunk with :class:`AttentionPoolHead` instead of average pooling.

    Args:
        backbone: a timm ConvNeXt built with ``num_classes=0`` (its
            ``forward_features`` gives ``[B, C, h, w]``).
        num_classes: number of classes.
        heads: attention heads.
        dropout: see :class:`AttentionPoolHead`.
    """

    def __init__(self, backbone: nn.Module, num_classes: int, heads: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = AttentionPoolHead(backbone.num_features, num_classes, heads, dropout)

    def get_classifier(self) -> nn.Module:
        """The whole pooling head: it is new on top of pretrained features, so it trains first."""
        return self.head

    def forward(self, images: torch.Tensor) -> dict[str, Any]:
        """``{"logits": [B, K], "maps": {"attention": [B, h, w]}}`` for images ``[B, 3, H, W]``."""
        features = self.backbone.forward_features(images)  # [B, C, H/32, W/32]
        logits, attention = self.head(features)
        return {"logits": logits, "maps": {"attention": attention}}


def build_attention_model(num_classes: int, arch: str, heads: int, dropout: float, pretrained: bool) -> nn.Module:
    """Build the trunk with timm and put the pooling head on it.

    Raises:
        HarnessError: ``heads`` does not divide the trunk's width.
    """
    from harness_timm.factory import build

    backbone = build(arch, pretrained=pretrained, num_classes=0)
    if backbone.num_features % heads:
        raise HarnessError(
            f"convnext-attention: heads = {heads} does not divide the {backbone.num_features} channels of {arch!r}")
    return ConvNeXtAttention(backbone, num_classes, heads, dropout)
