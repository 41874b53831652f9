"""Dynamic Weight Averaging (DWA), Liu et al., CVPR 2019 (MTAN), eq. 1 and 5 of the primary paper."""

from __future__ import annotations

import torch

from busmtl.weighting.base import ExtraState, Losses, SharedModel, Weighter

#: The epsilon in the loss ratio of eq. (1).
RATIO_EPS = 1e-8


def loss_ratios(epoch_losses: list[list[float]]) -> torch.Tensor:
    """Eq. (1): ``r_k(e) = L_k(e-1) / (L_k(e-2) + 1e-8)`` from the last two recorded epochs."""
    last = torch.tensor(epoch_losses[-1], dtype=torch.float64)
    before = torch.tensor(epoch_losses[-2], dtype=torch.float64)
    return last / (before + RATIO_EPS)


def softmax_weights(ratios: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. (5): ``w_k = K * exp(r_k / T) / sum_j exp(r_j / T)`` (a K-scaled softmax)."""
    return ratios.numel() * torch.softmax(ratios / temperature, dim=0)


class DWA(Weighter):
    """Dynamic Weight Averaging with a fixed temperature ``T`` (default 2).

    With 0-based epoch index ``e`` and ``L_k(e)`` the recorded mean loss of task k in epoch e:

    * for ``e < 2``: ``w_k = 1``;
    * otherwise ``r_k = L_k(e-1) / (L_k(e-2) + 1e-8)`` (eq. 1) and
      ``w = K * softmax(r / T)`` (eq. 5 with a constant T).

    A task whose loss falls more slowly gets a larger ratio and so a larger weight. Weights are
    fixed within an epoch and change only in :meth:`epoch_end`; they sum to K.
    """

    name = "dwa"
    label = "DWA"
    reference = "liu2019mtan"
    summary = "softmax of the loss ratios at a fixed temperature"
    scale_invariant = True  # r_k = c L_k(e-1) / (c L_k(e-2) + 1e-8)

    def __init__(self, num_tasks: int, T: float = 2.0) -> None:
        super().__init__(num_tasks)
        if not float(T) > 0:
            raise ValueError(f"dwa: T must be > 0, got {T!r}")
        self.T = float(T)
        self._weights = torch.ones(num_tasks, dtype=torch.float64)
        self._ratios: list[float] = [1.0] * num_tasks

    def temperature(self) -> float:
        """The temperature used for the current epoch (constant for DWA)."""
        return self.T

    def _update(self) -> None:
        if len(self.epoch_losses) < 2:
            self._weights = torch.ones(self.num_tasks, dtype=torch.float64)
            return
        ratios = loss_ratios(self.epoch_losses)
        self._ratios = ratios.tolist()
        self._weights = softmax_weights(ratios, self.temperature())

    def epoch_end(self, epoch_losses) -> None:  # type: ignore[override]
        super().epoch_end(epoch_losses)
        self._update()

    def current_weights(self) -> torch.Tensor:
        """The weights applied in the current epoch (float64, sum K)."""
        return self._weights.clone()

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        losses = self._check(losses)
        weights = self._weights.to(device=losses.device, dtype=losses.dtype)
        self._weighted_backward(losses, weights)
        return weights.detach()

    def extra_state(self) -> ExtraState:
        return {"temperature": self.temperature(), "ratio": list(self._ratios)}
