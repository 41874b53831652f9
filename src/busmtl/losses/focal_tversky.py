"""Focal Tversky loss (the decoder-interaction paper's segmentation loss, Sec. 2.4).

Abraham & Khan's focal Tversky loss on the Tversky index ``TI`` of :mod:`busmtl.losses.tversky`::

    L_FT = (1 - TI) ** gamma,     TI = TP / (TP + alpha FP + beta FN)

with the paper's ``alpha = 0.3`` (false positives), ``beta = 0.7`` (false negatives) and
``gamma = 0.75``. The paper's "gamma = 0.75" is read as the exponent itself (Abraham & Khan write
the exponent as ``1/gamma`` with ``gamma = 4/3``, which is the same 0.75). With an exponent below 1
a poorly segmented batch (large ``1 - TI``) is emphasised relative to the plain Tversky loss.
``1 - TI`` is floored at 1e-7 so that the gradient stays finite at a perfect prediction. Pooled
over the batch, 0 for a batch without lesion pixels.
"""

from __future__ import annotations

import torch

from busmtl.losses.tversky import ALPHA, BETA, tversky_index

#: Exponent of the focal Tversky loss.
GAMMA: float = 0.75
#: Floor of ``1 - TI`` (keeps the gradient of ``x ** 0.75`` finite at ``x = 0``).
FLOOR: float = 1e-7


def focal_tversky_loss(mask_logits: torch.Tensor, mask: torch.Tensor, alpha: float = ALPHA,
                       beta: float = BETA, gamma: float = GAMMA) -> torch.Tensor:
    """``(1 - TI) ** gamma`` (0 for a batch without lesion pixels)."""
    ti = tversky_index(mask_logits, mask, alpha, beta)
    lesion = (mask.sum() > 0).to(mask_logits.dtype)
    return (1 - ti).clamp_min(FLOOR).pow(gamma) * lesion
