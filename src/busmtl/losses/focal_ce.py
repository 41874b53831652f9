"""Focal cross-entropy (Lin et al.), the decoder-interaction paper's classification loss.

With ``p_t = softmax(z_i)[y_i]`` the probability of the true class of image ``i``::

    L_focal = mean_i (1 - p_t)^gamma (-log p_t),      gamma = 2          (Lin et al., eq. 4)

Easy images (``p_t`` near 1) are down-weighted. The paper cites Lin et al. without values; this
project uses Lin et al.'s ``gamma = 2`` and no class-balancing factor ``alpha``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Focusing exponent.
GAMMA: float = 2.0


def focal_ce_loss(class_logits: torch.Tensor, labels: torch.Tensor,
                  gamma: float = GAMMA) -> torch.Tensor:
    """``mean_i (1 - p_t)^gamma (-log p_t)`` of ``[B, C]`` logits against labels ``[B]``."""
    log_pt = F.log_softmax(class_logits, dim=1).gather(1, labels.long()[:, None])[:, 0]
    return ((1 - log_pt.exp()).pow(gamma) * -log_pt).mean()
