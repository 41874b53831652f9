"""Class-balanced Dice loss (CB-Dice), Golnari & Diba eqs. 21-25.

The two classes are the background (``1 - y``, predicted ``1 - p``) and the lesion (``y``, ``p``).
Over every pixel of the batch (``P`` pixels, ``P_i`` of them in class ``i`` of the mask):

* eq. 21: class ratio ``r_i = P_i / P``;
* eq. 22: class weight ``w_i = r_i^-1 / sum_j r_j^-1`` (the rarer class weighs more; the weights
  sum to 1). A class absent from the batch would get an infinite inverse ratio: ``r_i + 1e-6`` is
  inverted instead (as in the authors' demo code), so that class then takes almost all the weight;
* eq. 23: per-class soft Dice ``D_i = 2 TP_i / (2 TP_i + FP_i + FN_i)``;
* eq. 24: ``CB-Dice = sum_i w_i D_i``;
* eq. 25: ``L_CB-Dice = 1 - CB-Dice``.

The weights depend only on the mask (no gradient flows through them). The paper's text describes
the weight as one minus the class ratio, but its eq. 22 inverts the ratio; eq. 22 is followed here.
"""

from __future__ import annotations

import torch

from busmtl.losses._common import EPS, probabilities, soft_counts

#: Added to each class ratio before it is inverted (eq. 22).
RATIO_EPS: float = 1e-6


def class_weights(mask: torch.Tensor) -> torch.Tensor:
    """Eqs. 21-22: ``[w_background, w_lesion]`` from the pixel counts of the 0/1 mask (sum 1)."""
    y = mask.detach().to(torch.float64)
    lesion_ratio = y.sum() / y.numel()
    ratios = torch.stack([1 - lesion_ratio, lesion_ratio])
    inverse = 1.0 / (ratios + RATIO_EPS)
    return inverse / inverse.sum()


def cb_dice_loss(mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 25: ``1 - sum_i w_i D_i`` over background and lesion, pooled over the batch."""
    p, y = probabilities(mask_logits, mask)
    dice = []
    for p_i, y_i in ((1 - p, 1 - y), (p, y)):
        tp, fp, fn = soft_counts(p_i, y_i)
        dice.append(2 * tp / (2 * tp + fp + fn).clamp_min(EPS))
    weights = class_weights(mask).to(mask_logits.dtype)
    return 1 - (weights * torch.stack(dice)).sum()
