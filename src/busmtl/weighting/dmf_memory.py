"""The loss memory shared by the three Dynamic Memory Fusion weighters (Golnari & Diba).

Each task keeps a FIFO history of its last ``history`` step losses. Before a statistic is taken,
the history is symmetric-log scaled (eq. 10) and then min-max scaled to [0, 1] (eq. 9), so that
tasks with losses of different magnitudes are compared on the same footing. Subclasses turn the
scaled histories into weights with :meth:`DMFWeighter.rule`.
"""

from __future__ import annotations

from collections import deque

import torch

from busmtl.weighting.base import ExtraState, Losses, SharedModel, Weighter

#: Epsilon of the min-max scaling (eq. 9) and of the inverse MAD (eqs. 6-7).
EPS = 1e-7


def symlog(h: torch.Tensor) -> torch.Tensor:
    """Eq. (10): ``log(1 + h)`` for ``h >= 0`` and ``-log(1 - h)`` for ``h < 0``."""
    return torch.sign(h) * torch.log1p(h.abs())


def minmax(h: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. (9) along the last axis: ``(h - min h) / (max h - min h + eps)``, in [0, 1]."""
    low = h.min(dim=-1, keepdim=True).values
    high = h.max(dim=-1, keepdim=True).values
    return (h - low) / (high - low + eps)


def scale_history(h: torch.Tensor) -> torch.Tensor:
    """Symmetric-log first (eq. 10), then min-max (eq. 9), per task (rows of ``[K, n]``)."""
    return minmax(symlog(h))


def median(h: torch.Tensor) -> torch.Tensor:
    """The median along the last axis, averaging the two middle values for even lengths.

    (``torch.median`` returns the lower of the two, which is not the statistical median.)
    """
    return torch.quantile(h, 0.5, dim=-1)


def mad(h: torch.Tensor) -> torch.Tensor:
    """Eq. (5): ``MAD = median(|h - median(h)|)`` per row."""
    return median((h - median(h)[..., None]).abs())


def normalize_to_k(scores: torch.Tensor) -> torch.Tensor:
    """``K * s / sum(s)``: the paper normalizes to 1; this is K times that (equal-weighting scale).

    When every score is 0 (e.g. constant histories), equal weights are returned.
    """
    total = scores.sum()
    if not torch.isfinite(total) or total <= 0:
        return torch.ones_like(scores)
    return scores.numel() * scores / total


class DMFWeighter(Weighter):
    """Common machinery: the per-task FIFO memory, warm-up, and the per-step update.

    Every step the current (detached) losses are appended to the memory; once at least
    ``warmup`` losses are stored (default 50 of ``history`` = 100), the weights are recomputed
    from the scaled memory by :meth:`rule`, otherwise ``w = 1``. Weights sum to K.
    """

    def __init__(self, num_tasks: int, history: int = 100, warmup: int = 50) -> None:
        super().__init__(num_tasks)
        if int(history) < 2:
            raise ValueError(f"{self.name}: history must be >= 2, got {history!r}")
        if not 2 <= int(warmup) <= int(history):
            raise ValueError(f"{self.name}: warmup must be in [2, history={history}], got {warmup!r}")
        self.history, self.warmup = int(history), int(warmup)
        self.memory: deque[list[float]] = deque(maxlen=self.history)
        self._weights = torch.ones(num_tasks, dtype=torch.float64)
        self._statistic: list[float] = [0.0] * num_tasks

    def rule(self, scaled: torch.Tensor) -> torch.Tensor:
        """Turn the scaled memory ``[K, n]`` into weights summing to K (implemented per method)."""
        raise NotImplementedError

    def update(self, losses: torch.Tensor) -> torch.Tensor:
        """Store one step's losses and return the weights for this step (float64)."""
        self.memory.append([float(v) for v in losses.detach().double().cpu().tolist()])
        if len(self.memory) >= self.warmup:
            scaled = scale_history(torch.tensor(list(self.memory), dtype=torch.float64).T)
            self._weights = self.rule(scaled)
        return self._weights

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        losses = self._check(losses)
        weights = self.update(losses).to(device=losses.device, dtype=losses.dtype)
        self._weighted_backward(losses, weights)
        return weights.detach()

    def extra_state(self) -> ExtraState:
        return {"statistic": list(self._statistic)}
