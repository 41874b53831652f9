"""Random loss weighting (RLW), Lin et al., TMLR 2022, through torchjd."""

from __future__ import annotations

import torch

from busmtl.weighting.scalarized import ScalarizedWeighter


class RLW(ScalarizedWeighter):
    """Random loss weighting: at every step ``w = softmax(z)`` with ``z ~ N(0, I_K)``, and the
    loss is ``sum_k w_k L_k`` (Lin et al., Algorithm 2, the normal-softmax variant;
    :class:`torchjd.scalarization.Random`). Weights sum to 1 (LibMTL's and torchjd's scale).
    Random: the same seed gives the same weights, but swapping the tasks does not swap them."""

    name = "rlw"
    label = "RLW"
    reference = "lin2022rlw"
    summary = "random weights drawn at every step (softmax of a normal draw)"
    sums_to_k = False
    stochastic = True

    def __init__(self, num_tasks: int) -> None:
        super().__init__(num_tasks)
        from torchjd.scalarization import Random

        self.scalarizer = Random()

    def objective(self, losses: torch.Tensor) -> torch.Tensor:
        return self.scalarizer(losses)
