"""Smooth Tchebycheff scalarization (STCH), Lin et al., ICML 2024, through torchjd."""

from __future__ import annotations

import torch

from busmtl.weighting.base import ExtraState
from busmtl.weighting.scalarized import ScalarizedWeighter

#: Added to the losses before their logarithm (LibMTL's 1e-20 underflows in float32).
LOG_EPS = 1e-12


class STCH(ScalarizedWeighter):
    """Smooth Tchebycheff: ``K mu log sum_k exp(f_k / mu)`` with ``f_k = log(L_k / z_k)``
    (Lin et al., eq. 8 with ``lambda = 1`` and the losses on a log scale, as in LibMTL;
    :class:`torchjd.scalarization.STCH`), a smooth maximum of the relative losses. The nadir
    point ``z`` is the mean training loss of the last warm-up epoch; during the ``warmup``
    epochs the loss is ``sum_k log L_k``. Weights: ``1 / L_k`` in the warm-up, then
    ``K softmax(f / mu)_k / L_k``; they do not sum to K.

    Convention: LibMTL trains one more epoch with the warm-up loss and takes its mean batch loss
    as the nadir point; here the nadir is the last warm-up epoch's recorded mean.
    """

    name = "stch"
    label = "STCH"
    reference = "lin2024stch"
    summary = "smooth maximum of the losses relative to a nadir point"
    sums_to_k = False

    def __init__(self, num_tasks: int, mu: float = 1.0, warmup: int = 4) -> None:
        super().__init__(num_tasks)
        if not float(mu) > 0:
            raise ValueError(f"stch: mu must be > 0, got {mu!r}")
        if int(warmup) < 1:
            raise ValueError(f"stch: warmup must be >= 1 epoch (the nadir point), got {warmup!r}")
        from torchjd.scalarization import STCH as Scalarizer

        self.mu, self.warmup = float(mu), int(warmup)
        self.scalarizer = Scalarizer(self.mu, weights=torch.ones(num_tasks))
        self.register_buffer("nadir", torch.ones(num_tasks))
        self.warmed_up = False

    def epoch_end(self, epoch_losses) -> None:  # type: ignore[override]
        super().epoch_end(epoch_losses)
        if len(self.epoch_losses) == self.warmup:
            self.nadir = torch.tensor(self.epoch_losses[-1], dtype=self.nadir.dtype,
                                      device=self.nadir.device)
            self.warmed_up = True

    def objective(self, losses: torch.Tensor) -> torch.Tensor:
        logs = torch.log(losses + LOG_EPS)
        if not self.warmed_up:
            return logs.sum()
        self.scalarizer.weights = self.scalarizer.weights.to(losses)
        return self.num_tasks * self.scalarizer(logs - torch.log(self.nadir.to(losses)))

    def extra_state(self) -> ExtraState:
        return {"nadir": self.nadir.tolist()}
