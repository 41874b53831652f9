"""IMTL-L (impartial MTL, loss balance), Liu et al., ICLR 2021, through torchjd."""

from __future__ import annotations

import torch
from torch import nn

from busmtl.weighting.base import ExtraState
from busmtl.weighting.scalarized import ScalarizedWeighter


class IMTLL(ScalarizedWeighter):
    """IMTL-L: learnable scales ``s_k`` (init 0) and the loss ``sum_k (e^(s_k) L_k - s_k)``
    (Liu et al., Sec. 3.1; :class:`torchjd.scalarization.IMTLL`); the weights are ``e^(s_k)``.
    The ``s_k`` descend the same loss with the network's optimizer (so ``e^(s_k) L_k`` is pulled
    towards 1): :meth:`network_parameters` returns them. Equal to twice UW at ``s = -log
    sigma^2``. Weights start at 1 and are not constrained to sum K."""

    name = "imtl_l"
    label = "IMTL-L"
    reference = "liu2021imtl"
    summary = "learned loss scales that keep every scaled loss near one"
    sums_to_k = False

    def __init__(self, num_tasks: int) -> None:
        super().__init__(num_tasks)
        from torchjd.scalarization import IMTLL as Scalarizer

        self.scalarizer = Scalarizer(num_tasks)

    def objective(self, losses: torch.Tensor) -> torch.Tensor:
        return self.scalarizer(losses)

    def network_parameters(self) -> list[nn.Parameter]:
        return [self.scalarizer.log_scale]

    def extra_state(self) -> ExtraState:
        return {"log_scale": self.scalarizer.log_scale.detach().tolist()}
