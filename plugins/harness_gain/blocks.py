"""Building blocks of GAIN-MTL: conv stacks, CBAM, FPN and the classification heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """``Conv(k×k, same padding, no bias) → BN → ReLU``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ConvStack(nn.Sequential):
    """``Conv3×3-BN-ReLU → Conv3×3-BN-ReLU → Conv1×1``: the head used by several paths.

    Args:
        in_channels: input channels.
        mid_channels: channels of the two 3×3 layers.
        out_channels: channels of the final 1×1 projection (with bias).
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int):
        super().__init__(
            conv_bn_relu(in_channels, mid_channels, 3),
            conv_bn_relu(mid_channels, mid_channels, 3),
            nn.Conv2d(mid_channels, out_channels, 1),
        )


class ChannelAttention(nn.Module):
    """CBAM channel gate: a shared MLP over average- and max-pooled descriptors."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(F.adaptive_avg_pool2d(x, 1))
        peak = self.mlp(F.adaptive_max_pool2d(x, 1))
        return x * torch.sigmoid(avg + peak)  # [B, C, h, w]


class SpatialAttention(nn.Module):
    """CBAM spatial gate: a 7×7 conv over the channel-wise mean and max."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # [B, 2, h, w]
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Sequential):
    """Convolutional Block Attention Module: channel gate, then spatial gate."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention())


class FPN(nn.Module):
    """Feature pyramid: 1×1 laterals, top-down nearest upsampling and addition, 3×3 smoothing,
    then every level brought to the finest resolution and summed into one fused map.

    Args:
        in_channels: channels of each input level, finest first.
        out_channels: channels of every output level.
    """

    def __init__(self, in_channels: list[int], out_channels: int):
        super().__init__()
        self.laterals = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(conv_bn_relu(out_channels, out_channels, 3) for _ in in_channels)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """All pyramid levels summed at the finest resolution: ``[B, out_channels, h_0, w_0]``."""
        levels = [lateral(f) for lateral, f in zip(self.laterals, features)]
        for i in range(len(levels) - 2, -1, -1):  # coarse semantics flow down to fine levels
            levels[i] = levels[i] + F.interpolate(levels[i + 1], size=levels[i].shape[-2:], mode="nearest")
        size = levels[0].shape[-2:]
        fused = self.smooth[0](levels[0])
        for smooth, level in zip(self.smooth[1:], levels[1:]):
            fused = fused + F.interpolate(smooth(level), size=size, mode="bilinear", align_corners=False)
        return fused


class ClassifierHead(nn.Module):
    """``AvgPool → Linear → ReLU → Dropout → Linear`` with a weight-based CAM.

    The CAM uses the head's composed linear map ``w = W2[k] @ W1`` (ReLU and dropout
    ignored): because average pooling is linear, ``mean_xy(CAM) + W2[k]·b1 + b2[k]`` is the
    class-``k`` logit whenever the hidden ReLU is inactive, so the CAM is the spatial
    decomposition of the logit in the linear regime, as for a single-layer head.

    Args:
        in_channels: feature channels.
        hidden: width of the hidden layer.
        num_classes: output classes.
        dropout: dropout probability after the ReLU.
    """

    def __init__(self, in_channels: int, hidden: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.fc1 = nn.Linear(in_channels, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = features.mean(dim=(-2, -1))  # [B, C]
        return self.fc2(self.drop(F.relu(self.fc1(pooled))))  # [B, K]

    def cam_weights(self) -> torch.Tensor:
        """``[K, C]`` channel weights of every class's CAM."""
        return self.fc2.weight @ self.fc1.weight

    def cam(self, features: torch.Tensor, class_index: torch.Tensor) -> torch.Tensor:
        """``[B, h, w]`` CAM logits ``sum_c w_c F_c`` of one class per sample (``[B]`` indices)."""
        return torch.einsum("bchw,bc->bhw", features, self.cam_weights()[class_index])
