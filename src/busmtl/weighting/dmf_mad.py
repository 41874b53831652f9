"""DMF MAD-based weighting (Golnari & Diba, eqs. 5-6, with the scaling of eqs. 9-10)."""

from __future__ import annotations

import torch

from busmtl.weighting.dmf_memory import EPS, DMFWeighter, mad, normalize_to_k


class DMFMad(DMFWeighter):
    """``w_k ∝ 1 / (MAD(H_k) + eps)``: steadier tasks (small median absolute deviation) weigh more.

    ``MAD = median(|H - median(H)|)`` of the scaled history (eq. 5, true median); eq. (6)
    normalizes the inverse MADs to sum 1, here to sum K.
    """

    name = "dmf_mad"
    label = "DMF-MAD"
    reference = "golnari2025dmf"
    summary = "weights from the median absolute deviation of the loss memory"

    def rule(self, scaled: torch.Tensor) -> torch.Tensor:
        deviation = mad(scaled)
        self._statistic = deviation.tolist()
        return normalize_to_k(1.0 / (deviation + EPS))
