"""DMF variance-based weighting (Golnari & Diba, eqs. 3-4, with the scaling of eqs. 9-10)."""

from __future__ import annotations

import torch

from busmtl.weighting.dmf_memory import DMFWeighter, normalize_to_k


class DMFVar(DMFWeighter):
    """``w_k ∝ Var(H_k)``: tasks whose (scaled) loss history varies more get more weight.

    ``Var`` is the population variance of the scaled history (eq. 3); eq. (4) normalizes the
    variances to sum 1, here to sum K (a constant factor K).
    """

    name = "dmf_var"
    label = "DMF-Var"
    reference = "golnari2025dmf"
    summary = "weights proportional to the variance of the loss memory"
    positive_weights = False  # a task whose memory is constant has variance 0

    def rule(self, scaled: torch.Tensor) -> torch.Tensor:
        variance = scaled.var(dim=1, correction=0)
        self._statistic = variance.tolist()
        return normalize_to_k(variance)
