"""Equal weighting (EW): the SSC-ResNet baseline of the primary paper."""

from __future__ import annotations

import torch

from busmtl.weighting.base import Losses, SharedModel, Weighter


class EW(Weighter):
    """Equal weighting: ``w_k = 1`` for every task, so the total loss is ``sum_k L_k``.

    This is the plain joint objective of the SSC-ResNet baseline in the primary paper
    (Hariyadi et al., Table II, row "SSC-ResNet"). Weights sum to K.
    """

    name = "ew"
    label = "EW (SSC-ResNet)"
    reference = "hariyadi2025atdwa"
    summary = "equal weights: the plain sum of the task losses"
    scale_invariant = True

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        losses = self._check(losses)
        weights = torch.ones(self.num_tasks, device=losses.device)
        self._weighted_backward(losses, weights)
        return weights.detach()
