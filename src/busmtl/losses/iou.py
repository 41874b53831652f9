"""Soft IoU (Jaccard) loss of the lesion, pooled over the batch.

DMF's mean IoU loss (Golnari & Diba, eq. 17) for the lesion class, with soft counts::

    L_IoU = 1 - TP / (TP + FP + FN) = 1 - sum(p y) / (sum(p) + sum(y) - sum(p y))

Same conventions as the project's Dice loss: pooled over the whole batch, 0 for a batch without
lesion pixels.
"""

from __future__ import annotations

import torch

from busmtl.losses._common import EPS, has_lesion, probabilities, soft_counts


def iou_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - TP / (TP + FP + FN)`` on soft counts pooled over the batch (0 if no lesion)."""
    p, y = probabilities(mask_logits, mask)
    tp, fp, fn = soft_counts(p, y)
    return (1 - tp / (tp + fp + fn).clamp_min(EPS)) * has_lesion(y)
