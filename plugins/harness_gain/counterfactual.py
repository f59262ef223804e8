"""Path 3: the counterfactual module ("had the defect not been there, it would be normal")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness_gain.blocks import ConvStack, conv_bn_relu


class CounterfactualModule(nn.Module):
    """Suppress the defect region in feature space and re-classify the result.

    Steps: the GT mask becomes a per-channel suppression mask (conv stack + sigmoid); the
    suppressed positions are replaced by a learned replacement of the features; a residual
    refiner smooths the edit; a small head classifies the counterfactual features, which
    the counterfactual loss pushes towards class 0 ("normal"). Used in training only.

    Args:
        channels: feature channels.
        mid_channels: channels of the mask-processing stack.
        hidden: width of the re-classification head.
        num_classes: output classes.
    """

    def __init__(self, channels: int, mid_channels: int, hidden: int, num_classes: int):
        super().__init__()
        self.mask_net = ConvStack(1, mid_channels, channels)
        # 1×1 layers: a 3×3 conv on the widest features would dominate the model's size
        self.replacer = conv_bn_relu(channels, channels, 1)
        self.refiner = conv_bn_relu(channels, channels, 1)
        # ReLU between the two Linear layers, otherwise they collapse into one linear map
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def suppression(self, mask: torch.Tensor) -> torch.Tensor:
        """``[B, C, h, w]`` suppression weights in (0, 1) from a ``[B, h, w]`` mask."""
        return torch.sigmoid(self.mask_net(mask.unsqueeze(1)))

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Counterfactual logits.

        Args:
            features: ``[B, C, h, w]`` backbone features.
            mask: ``[B, h, w]`` GT mask at the features' resolution, values in [0, 1].

        Returns:
            ``[B, K]`` logits of the defect-suppressed features.
        """
        weights = self.suppression(mask)
        edited = features * (1 - weights) + self.replacer(features) * weights
        edited = self.refiner(edited) + edited  # residual refinement
        pooled = edited.mean(dim=(-2, -1))  # [B, C]
        return self.fc2(F.relu(self.fc1(pooled)))
