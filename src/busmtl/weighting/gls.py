"""Geometric loss strategy (GLS), Chennupati et al., CVPR Workshops 2019, through torchjd."""

from __future__ import annotations

import torch

from busmtl.weighting.scalarized import ScalarizedWeighter


class GLS(ScalarizedWeighter):
    """Geometric loss strategy: the loss is the geometric mean ``(prod_k L_k)^(1/K)``
    (Chennupati et al., eq. 1; :class:`torchjd.scalarization.GeometricMean`), whose gradient
    gives each task the weight ``w_k = (prod_j L_j)^(1/K) / (K L_k)``: a task with a small loss
    counts more. Weights do not sum to K; losses must be positive."""

    name = "gls"
    label = "GLS"
    reference = "chennupati2019multinet"
    summary = "geometric mean of the task losses"
    sums_to_k = False

    def __init__(self, num_tasks: int) -> None:
        super().__init__(num_tasks)
        from torchjd.scalarization import GeometricMean

        self.scalarizer = GeometricMean()

    def objective(self, losses: torch.Tensor) -> torch.Tensor:
        return self.scalarizer(losses)
