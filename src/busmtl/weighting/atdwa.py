"""Adaptive Temperature DWA (ATDWA): the primary paper's method (Hariyadi et al., eqs. 1-5)."""

from __future__ import annotations

import torch

from busmtl.weighting.base import ExtraState
from busmtl.weighting.dwa import DWA


def task_uncertainty(epoch_losses: list[list[float]], window: int = 3, ddof: int = 0) -> torch.Tensor:
    """Eq. (2): ``u_k`` = standard deviation of the last ``window`` recorded losses of task k.

    ``ddof=0`` is the population standard deviation. With fewer than ``ddof + 1`` recorded
    epochs the deviation is undefined and 0 is returned (the temperature then stays at T0).
    """
    recent = torch.tensor(epoch_losses[-window:], dtype=torch.float64)
    if recent.numel() == 0 or recent.shape[0] <= ddof:
        num_tasks = len(epoch_losses[0]) if epoch_losses else 0
        return torch.zeros(num_tasks, dtype=torch.float64)
    return recent.std(dim=0, correction=ddof)


def adaptive_temperature(u: torch.Tensor, T0: float = 2.0, gamma: float = 0.8) -> float:
    """Eqs. (3)-(4): ``T = T0 * (1 + gamma * mean_k u_k)``."""
    u_bar = float(u.mean()) if u.numel() else 0.0
    return T0 * (1.0 + gamma * u_bar)


class ATDWA(DWA):
    """DWA whose temperature grows with the recent volatility of the task losses.

    With 0-based epoch index ``e`` and ``L_k(e)`` the recorded mean loss of task k:

    * eq. (1): ``r_k = L_k(e-1) / (L_k(e-2) + 1e-8)`` (as DWA; ``w_k = 1`` for ``e < 2``);
    * eq. (2): ``u_k`` = std (``ddof``, default 0) of the most recent ``window`` (default 3)
      recorded epoch losses of task k;
    * eq. (3): ``ū = (1/K) sum_k u_k``;
    * eq. (4): ``T = T0 (1 + gamma ū)``, defaults ``T0 = 2``, ``gamma = 0.8``;
    * eq. (5): ``w = K softmax(r / T)``; the weights sum to K.

    The paper writes ``u_k(t)`` over ``L(t), L(t-1), L(t-2)``. At the start of epoch t only the
    completed epochs are known, so this implementation reads it as the most recent ``window``
    *recorded* epochs (fewer while fewer exist). Volatile losses raise T and flatten the
    weights; stable losses keep T near T0. ``gamma = 0`` gives DWA with ``T = T0``.
    """

    name = "atdwa"
    label = "ATDWA"
    reference = "hariyadi2025atdwa"
    summary = "DWA with a temperature that grows with the loss volatility"
    scale_invariant = False  # u_k, the std of the raw losses, scales with them

    def __init__(
        self, num_tasks: int, T0: float = 2.0, gamma: float = 0.8, window: int = 3, ddof: int = 0
    ) -> None:
        if not float(T0) > 0:
            raise ValueError(f"atdwa: T0 must be > 0, got {T0!r}")
        if float(gamma) < 0:
            raise ValueError(f"atdwa: gamma must be >= 0, got {gamma!r}")
        if int(window) < 1:
            raise ValueError(f"atdwa: window must be >= 1, got {window!r}")
        if int(ddof) not in (0, 1):
            raise ValueError(f"atdwa: ddof must be 0 or 1, got {ddof!r}")
        super().__init__(num_tasks, T=T0)
        self.T0, self.gamma, self.window, self.ddof = float(T0), float(gamma), int(window), int(ddof)
        self._u = torch.zeros(num_tasks, dtype=torch.float64)

    def temperature(self) -> float:
        return adaptive_temperature(self._u, self.T0, self.gamma)

    def _update(self) -> None:
        self._u = task_uncertainty(self.epoch_losses, self.window, self.ddof)
        super()._update()

    def extra_state(self) -> ExtraState:
        state = super().extra_state()
        state["uncertainty"] = float(self._u.mean())
        state["task_uncertainty"] = self._u.tolist()
        return state
