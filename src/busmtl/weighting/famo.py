"""Fast adaptive multitask optimization (FAMO), Liu et al., NeurIPS 2023, through torchjd."""

from __future__ import annotations

import torch

from busmtl.weighting.base import ExtraState
from busmtl.weighting.scalarized import ScalarizedWeighter


class FAMO(ScalarizedWeighter):
    """FAMO: logits ``xi`` (init 0), ``z = softmax(xi)``, and the loss
    ``c sum_k z_k log(L_k + eps)`` with ``c = (sum_k z_k / (L_k + eps))^-1`` held constant
    (Liu et al., eq. 4-5; :class:`torchjd.scalarization.FAMO`), so the applied weights are
    ``w_k = c z_k / (L_k + eps)`` and sum to 1. The logits take one Adam step (``logit_lr``,
    ``weight_decay``; their Algorithm 1-2) along ``delta_k = log L_k(before) - log L_k(after)``.

    Convention: the paper measures "after" on the same batch with an extra forward pass; the
    weighter interface has no batch, so, as LibMTL does, "after" is the next step's losses (the
    next batch): the update is made at the start of every step but the first.
    """

    name = "famo"
    label = "FAMO"
    reference = "liu2023famo"
    summary = "balances the log-loss decrease rates with learned task logits"
    sums_to_k = False

    def __init__(self, num_tasks: int, logit_lr: float = 0.025, weight_decay: float = 1e-3) -> None:
        super().__init__(num_tasks)
        from torchjd.scalarization import FAMO as Scalarizer

        self.scalarizer = Scalarizer(num_tasks, lr=float(logit_lr), weight_decay=float(weight_decay))

    def objective(self, losses: torch.Tensor) -> torch.Tensor:
        if self.scalarizer._prev_losses is not None:
            self.scalarizer.update(losses.detach())
        return self.scalarizer(losses)

    def logits(self) -> torch.Tensor:
        """The task logits ``xi``."""
        return self.scalarizer._w.detach().clone()

    def extra_state(self) -> ExtraState:
        return {"logit": self.logits().tolist()}
