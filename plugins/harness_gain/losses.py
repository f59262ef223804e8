"""The seven GAIN-MTL losses and the per-batch selection of the samples each one uses.

"Normal" means label 0 and "defect" any other label (label 1 in the binary case). Mask
losses use defects whose ``has_mask`` is True; GT masks are area-resized to each map's resolution, so a defect smaller than a
feature cell becomes a soft target instead of vanishing.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

_EPS = 1e-6


def resize_mask(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[B, H, W]`` masks to ``[B, *size]`` by area averaging (values stay in [0, 1])."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks.float()
    return F.adaptive_avg_pool2d(masks.float().unsqueeze(1), size).squeeze(1)


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Mean focal loss ``(1 - p_t)^gamma * CE`` over the batch (``gamma = 0`` is CE)."""
    ce = F.cross_entropy(logits, labels, reduction="none")
    p_t = torch.exp(-ce)
    return ((1 - p_t) ** gamma * ce).mean()


def dice_loss(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample soft Dice loss ``1 - 2|P∩G| / (|P| + |G|)``; ``[N, h, w]`` in, ``[N]`` out."""
    inter = (prob * target).flatten(1).sum(1)
    total = prob.flatten(1).sum(1) + target.flatten(1).sum(1)
    return 1 - (2 * inter + _EPS) / (total + _EPS)


def iou_loss(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample soft IoU loss ``1 - |P∩G| / |P∪G|``; ``[N, h, w]`` in, ``[N]`` out."""
    inter = (prob * target).flatten(1).sum(1)
    union = prob.flatten(1).sum(1) + target.flatten(1).sum(1) - inter
    return 1 - (inter + _EPS) / (union + _EPS)


def entropy_loss(attention: torch.Tensor) -> torch.Tensor:
    """Per-sample ``1 - H(p) / log(hw)`` with ``p`` the attention normalised to sum 1.

    0 for a uniform map, 1 for a single peak: minimising it spreads a normal image's
    attention instead of letting it fix on a spurious spot. ``[N, h, w]`` in, ``[N]`` out.
    """
    flat = attention.flatten(1)
    p = flat / flat.sum(1, keepdim=True).clamp_min(_EPS)
    # p·log p with log clamped: exact value 0 at p = 0 and a finite gradient (xlogy's is NaN)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(1)
    # a 1-pixel map has no spread to maximise: log(1) = 0 is clamped so its loss is 1
    return 1 - entropy / max(math.log(flat.shape[1]), _EPS)


def _bce_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean BCE over pixels; ``[N]``."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)


def cam_guidance_loss(cam_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_cam: BCE + Dice between the CAM and the mask, averaged over the given samples."""
    return (_bce_logits(cam_logits, target) + dice_loss(torch.sigmoid(cam_logits), target)).mean()


def localization_loss(loc_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_loc: Dice + BCE between the localisation map and the mask."""
    return (dice_loss(torch.sigmoid(loc_logits), target) + _bce_logits(loc_logits, target)).mean()


def guided_attention_loss(
    defect_logits: torch.Tensor, defect_target: torch.Tensor, normal_attention: torch.Tensor
) -> torch.Tensor:
    """L_guide: BCE + Dice + IoU on masked defects, plus entropy maximisation on normals.

    Args:
        defect_logits: ``[D, h, w]`` attention logits of the masked defects.
        defect_target: ``[D, h, w]`` their masks.
        normal_attention: ``[M, h, w]`` attention probabilities of the normals.
    """
    total = defect_logits.new_zeros(())
    if len(defect_logits):
        prob = torch.sigmoid(defect_logits)
        per_sample = _bce_logits(defect_logits, defect_target) + dice_loss(prob, defect_target)
        total = total + (per_sample + iou_loss(prob, defect_target)).mean()
    if len(normal_attention):
        total = total + entropy_loss(normal_attention).mean()
    return total


def counterfactual_loss(cf_logits: torch.Tensor) -> torch.Tensor:
    """L_cf: cross-entropy of the counterfactual logits towards class 0 (normal)."""
    return F.cross_entropy(cf_logits, cf_logits.new_zeros(len(cf_logits), dtype=torch.long))


def consistency_loss(attention: torch.Tensor, localization: torch.Tensor) -> torch.Tensor:
    """L_consist: MSE between attention and the localisation map area-resized to it."""
    return F.mse_loss(attention, resize_mask(localization, tuple(attention.shape[-2:])))


def sample_selection(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(defect, masked_defect, normal)`` boolean ``[B]`` selections of a batch.

    Without masks nothing is a masked defect; without ``has_mask`` every sample of a batch
    with masks counts as having one.
    """
    labels = batch.labels
    defect, normal = labels != 0, labels == 0
    if batch.masks is None:
        return defect, torch.zeros_like(defect), normal
    has_mask = torch.ones_like(defect) if batch.has_mask is None else batch.has_mask.to(labels.device).bool()
    return defect, defect & has_mask, normal


def gain_losses(outputs: dict[str, Any], batch: Any, names: tuple[str, ...], gamma: float) -> dict[str, torch.Tensor]:
    """Each requested loss on one batch; a loss whose input is absent (``cf`` at eval) is left out.

    A mask loss on a batch without eligible samples is exactly 0: the term is a mean
    over eligible samples and there are none.
    """
    defect, masked, normal = sample_selection(batch)
    zero = outputs["cls_logits"].new_zeros(())
    has_masks = bool(masked.any())

    def target(key: str) -> torch.Tensor:  # masked defects' GT at the resolution of outputs[key]
        return resize_mask(batch.masks[masked], tuple(outputs[key].shape[-2:]))

    out: dict[str, torch.Tensor] = {}
    if "cls" in names:
        out["cls"] = focal_loss(outputs["cls_logits"], batch.labels, gamma)
    if "am" in names:
        out["am"] = focal_loss(outputs["attended_logits"], batch.labels, gamma)
    if "cam_guide" in names:
        out["cam_guide"] = cam_guidance_loss(outputs["cam_logits"][masked], target("cam_logits")) if has_masks else zero
    if "loc" in names:
        out["loc"] = localization_loss(outputs["loc_logits"][masked], target("loc_logits")) if has_masks else zero
    if "guide" in names:
        logits = outputs["attention_logits"][masked]
        out["guide"] = guided_attention_loss(
            logits, target("attention_logits") if has_masks else logits, outputs["attention"][normal]
        )
    if "cf" in names and outputs.get("cf_logits") is not None:
        out["cf"] = counterfactual_loss(outputs["cf_logits"][masked]) if has_masks else zero
    if "consist" in names:
        loc_prob = torch.sigmoid(outputs["loc_logits"][defect])
        out["consist"] = consistency_loss(outputs["attention"][defect], loc_prob) if bool(defect.any()) else zero
    return out
