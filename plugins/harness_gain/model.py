"""The GAIN-MTL network: one timm backbone feeding four paths.

Path 1 classifies the last backbone stage and yields a weight-based CAM; path 2 is the
GAIN attention (CBAM, attention conv stack over a learnable temperature, attention-mining
stream, feature adapter, attended head); path 3 the counterfactual module (training
only); path 4 a localisation FCN on the FPN levels fused at the finest resolution. The last ``features_only``
stage plays the role of the method's high-level "conv head" features.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from harness import Batch, HarnessError
from harness_gain.blocks import CBAM, FPN, ClassifierHead, ConvStack, conv_bn_relu
from harness_gain.counterfactual import CounterfactualModule
from harness_gain.losses import gain_losses, resize_mask
from harness_gain.strategy import (
    active_losses,
    effective_lambdas,
    s6_alpha,
    table_lambdas,
    uses_attended_head,
)

_FPN_MIN_REDUCTION = 8  # FPN over stride >= 8 stages, as the method's block stages 3..6
_EPS = 1e-6


def fuse_attention(internal: torch.Tensor, mask: torch.Tensor, select: torch.Tensor, alpha: float) -> torch.Tensor:
    """S6 attention: GT-mask fusion for the selected samples, internal attention elsewhere.

    ``fused = mask * internal`` is divided by its per-sample maximum, then blended as
    ``alpha * mask + (1 - alpha) * fused_norm``.

    Args:
        internal: ``[B, h, w]`` attention probabilities.
        mask: ``[B, h, w]`` masks at the same resolution.
        select: ``[B]`` bool, samples that use the mask.
        alpha: curriculum weight of the raw mask (0 = pure fusion).
    """
    fused = mask * internal
    peak = fused.flatten(1).amax(1).clamp_min(_EPS)[:, None, None]
    blended = alpha * mask + (1 - alpha) * (fused / peak)
    return torch.where(select[:, None, None], blended, internal)


def _freeze_stages(backbone: nn.Module, stages: int) -> None:
    """Stop gradients through the stem and the first ``stages`` feature stages."""
    if stages <= 0:
        return
    names = backbone.feature_info.module_name()
    last = names[min(stages, len(names)) - 1]
    prefixes = (last + ".", last.replace(".", "_") + ".")
    params = list(backbone.named_parameters())
    # parameters are registered in forward order, so "everything up to the end of that stage"
    # is a prefix of the list, whatever the backbone's module names
    cut = max((i for i, (n, _) in enumerate(params) if n.startswith(prefixes)), default=-1)
    for _, p in params[: cut + 1]:
        p.requires_grad_(False)


class GainMTL(nn.Module):
    """GAIN-MTL over a timm ``features_only`` backbone (see the package docstring for options)."""

    def __init__(
        self,
        num_classes: int,
        backbone: str,
        strategy: str,
        fpn_channels: int,
        hidden: int,
        head_channels: int,
        dropout: float,
        freeze_stages: int,
        inference_mask: bool,
        focal_gamma: float,
    ):
        super().__init__()
        import timm

        self.strategy, self.inference_mask, self.focal_gamma = strategy, inference_mask, focal_gamma
        try:
            self.backbone = timm.create_model(backbone, pretrained=False, features_only=True)
        except RuntimeError as exc:
            raise HarnessError(f"gain-mtl: cannot build backbone {backbone!r}: {exc}") from exc
        channels, reductions = self.backbone.feature_info.channels(), self.backbone.feature_info.reduction()
        levels = [i for i, r in enumerate(reductions) if r >= _FPN_MIN_REDUCTION] or [len(channels) - 1]
        self.fpn_levels = levels
        top = channels[-1]
        self.fpn = FPN([channels[i] for i in levels], fpn_channels)
        self.cls_head = ClassifierHead(top, hidden, num_classes, dropout)
        self.cbam = CBAM(top)
        self.attention = ConvStack(top, head_channels, 1)
        self.temperature = nn.Parameter(torch.ones(()))
        self.mining = ConvStack(top, head_channels, 1)
        self.adapter = conv_bn_relu(top, top, 1)
        self.attended_head = ClassifierHead(top, hidden, num_classes, dropout)
        self.counterfactual = CounterfactualModule(top, head_channels, hidden, num_classes)
        self.localization = ConvStack(fpn_channels, fpn_channels, 1)
        self.freeze_stages = freeze_stages
        _freeze_stages(self.backbone, freeze_stages)

    def train(self, mode: bool = True) -> GainMTL:
        """Switch modes, keeping BatchNorm of frozen stages in eval so their statistics stay put."""
        super().train(mode)
        for module in self.backbone.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.weight is not None:
                if not module.weight.requires_grad:
                    module.eval()
        return self

    def forward(self, images: torch.Tensor) -> dict[str, Any]:
        """Inference on images alone (internal attention, no counterfactual path)."""
        return self._run(images)

    def forward_batch(self, batch: Batch) -> dict[str, Any]:
        """Forward with masks and progress: S6 fusion and the counterfactual path use them."""
        return self._run(
            batch.images,
            masks=batch.masks,
            has_mask=batch.has_mask,
            labels=batch.labels,
            training=batch.training,
            progress=batch.progress,
        )

    def _run(
        self,
        images: torch.Tensor,
        masks: torch.Tensor | None = None,
        has_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        training: bool = False,
        progress: float = 0.0,
    ) -> dict[str, Any]:
        feats = self.backbone(images)
        top = feats[-1]  # [B, C, h, w] high-level features for paths 1-3
        size = tuple(top.shape[-2:])
        small_mask = resize_mask(masks, size) if masks is not None else None
        out: dict[str, Any] = {"cls_logits": self.cls_head(top)}  # path 1
        out["cam_logits"] = self.cls_head.cam(top, self._defect_class(out["cls_logits"]))  # [B, h, w]
        out.update(self._attention_path(top, small_mask, has_mask, labels, training, progress))  # path 2
        if training and small_mask is not None and self._uses_counterfactual():  # path 3
            out["cf_logits"] = self.counterfactual(top, small_mask)
        fine = self.fpn([feats[i] for i in self.fpn_levels])  # path 4, [B, F, h0, w0] fused pyramid
        loc = self.localization(fine)
        out["loc_logits"] = nn.functional.interpolate(loc, scale_factor=4, mode="bilinear").squeeze(1)
        out["logits"] = out["attended_logits"] if uses_attended_head(self.strategy) else out["cls_logits"]
        out["maps"] = {
            "cam": torch.sigmoid(out["cam_logits"]),
            "attention": out["attention"],
            "localization": torch.sigmoid(out["loc_logits"]),
        }
        return out

    def _attention_path(
        self,
        top: torch.Tensor,
        small_mask: torch.Tensor | None,
        has_mask: torch.Tensor | None,
        labels: torch.Tensor | None,
        training: bool,
        progress: float,
    ) -> dict[str, torch.Tensor]:
        refined = self.cbam(top)
        # clamped so a runaway temperature cannot flip the sign or divide by ~0
        gain_logits = self.attention(refined).squeeze(1) / self.temperature.clamp_min(1e-2)  # [B, h, w]
        mined_logits = self.mining(top).squeeze(1)
        logits = (gain_logits + mined_logits) / 2
        internal = torch.sigmoid(logits)
        effective = self._effective_attention(internal, small_mask, has_mask, labels, training, progress)
        adapted = self.adapter(refined * effective.unsqueeze(1))
        return {
            "gain_logits": gain_logits,
            "mined_logits": mined_logits,
            "attention_logits": logits,
            "attention": internal,
            "effective_attention": effective,
            "attended_logits": self.attended_head(adapted),
        }

    def _effective_attention(
        self,
        internal: torch.Tensor,
        small_mask: torch.Tensor | None,
        has_mask: torch.Tensor | None,
        labels: torch.Tensor | None,
        training: bool,
        progress: float,
    ) -> torch.Tensor:
        if self.strategy != "S6" or small_mask is None:
            return internal
        flags = torch.ones(len(internal), dtype=torch.bool, device=internal.device)
        if has_mask is not None:
            flags = has_mask.to(internal.device).bool()
        if training:
            if labels is None:
                return internal
            return fuse_attention(internal, small_mask, flags & (labels != 0), s6_alpha(progress))
        if self.inference_mask:  # pure multiplicative fusion with the external mask
            return fuse_attention(internal, small_mask, flags, 0.0)
        return internal

    @staticmethod
    def _defect_class(cls_logits: torch.Tensor) -> torch.Tensor:
        """``[B]`` class whose CAM is the defect map: class 1 for two classes, else the most
        likely non-normal class of each sample."""
        return cls_logits.detach()[:, 1:].argmax(1) + 1

    def _uses_counterfactual(self) -> bool:
        return table_lambdas(self.strategy)["cf"] > 0

    def compute_loss(self, outputs: dict[str, Any], batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of the losses active at this point of training, and their values.

        The position is ``batch.epoch`` plus the fraction of that epoch already done
        (from ``batch.progress``), so the λ_loc warm-up is smooth within an epoch.
        """
        epoch = epoch_position(batch)
        names = active_losses(self.strategy, epoch, batch.num_epochs)
        lambdas = effective_lambdas(self.strategy, epoch, batch.num_epochs)
        parts = gain_losses(outputs, batch, names, self.focal_gamma)
        total = sum(lambdas[name] * value for name, value in parts.items())
        return total, {name: float(value.detach()) for name, value in parts.items()}


def epoch_position(batch: Batch) -> float:
    """``batch.epoch`` plus the done fraction of that epoch, in ``[epoch, epoch + 1)``.

    Open at the top so the last step of an epoch never lands in the next epoch's stage.
    """
    position = max(batch.progress * batch.num_epochs, float(batch.epoch))
    return min(position, math.nextafter(float(batch.epoch + 1), 0.0))
