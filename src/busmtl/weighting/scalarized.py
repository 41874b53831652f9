"""Loss-only weighters built on a :class:`torchjd.scalarization.Scalarizer`: the network is
trained on the scalar ``S(L_1, ..., L_K)`` by one ordinary backward pass.

The returned weights are the effective ones, ``w_k = dS/dL_k`` at this step (taken by autograd on
the K-vector of losses only, not through the network): ``grad S = sum_k w_k grad L_k``, so the
gradient of the network is that of ``sum_k w_k L_k`` with ``w`` as constants. For a weighted sum
they are its weights.
"""

from __future__ import annotations

from abc import abstractmethod

import torch

from busmtl.weighting.base import Losses, SharedModel, Weighter


class ScalarizedWeighter(Weighter):
    """Base: subclasses return the scalarized loss in :meth:`objective`."""

    @abstractmethod
    def objective(self, losses: torch.Tensor) -> torch.Tensor:
        """The scalar ``S(L)`` that the network (and any parameter of the method) descends."""

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        losses = self._check(losses)
        total = self.objective(losses)
        (weights,) = torch.autograd.grad(total, losses, retain_graph=True)
        total.backward()
        return weights.detach()
