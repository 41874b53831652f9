"""Tversky loss of the lesion, pooled over the batch.

DMF's Tversky loss (Golnari & Diba, eq. 20) for the lesion class, with soft counts::

    TI = TP / (TP + alpha FP + beta FN),        L_Tversky = 1 - TI

``alpha`` weighs false positives and ``beta`` false negatives. The project uses the decoder-
interaction paper's values ``alpha = 0.3``, ``beta = 0.7`` (recall-oriented: a missed lesion pixel
costs more than a false alarm) for both Tversky losses. Pooled over the batch, 0 for a batch
without lesion pixels (the conventions of the project's Dice loss).
"""

from __future__ import annotations

import torch

from busmtl.losses._common import EPS, has_lesion, probabilities, soft_counts

#: Weight of the false positives in the Tversky index.
ALPHA: float = 0.3
#: Weight of the false negatives in the Tversky index.
BETA: float = 0.7


def tversky_index(mask_logits: torch.Tensor, mask: torch.Tensor, alpha: float = ALPHA,
                  beta: float = BETA) -> torch.Tensor:
    """``TI = TP / (TP + alpha FP + beta FN)`` on soft counts pooled over the batch."""
    p, y = probabilities(mask_logits, mask)
    tp, fp, fn = soft_counts(p, y)
    return tp / (tp + alpha * fp + beta * fn).clamp_min(EPS)


def tversky_loss(mask_logits: torch.Tensor, mask: torch.Tensor, alpha: float = ALPHA,
                 beta: float = BETA) -> torch.Tensor:
    """``1 - TI`` (0 for a batch without lesion pixels)."""
    ti = tversky_index(mask_logits, mask, alpha, beta)
    return (1 - ti) * has_lesion(mask.to(mask_logits.dtype))
