"""Dual-Balancing Multi-Task Learning (DB-MTL), Lin et al. (Algorithm 1, eqs. 1-2)."""

from __future__ import annotations

import torch

from busmtl.weighting.base import ExtraState, SharedModel, Weighter, add_grad, unique_parameters

#: The epsilon of Algorithm 1 (inside the log and in the normalization).
EPS = 1e-8


def balance_gradients(ema_grads: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (2) / Algorithm 1 step 9: the magnitude-balanced shared gradient.

    ``ema_grads`` is ``[K, P]`` (one flattened EMA gradient per task). Returns
    ``(g_shared, scales)`` with ``alpha = max_k ||ĝ_k||``, ``scales_k = alpha / (||ĝ_k|| + eps)``
    and ``g_shared = sum_k scales_k ĝ_k``: every task direction is rescaled to the largest norm.
    """
    norms = ema_grads.norm(dim=1)
    alpha = norms.max()
    scales = alpha / (norms + eps)
    return (scales[:, None] * ema_grads).sum(dim=0), scales


class DBMTL(Weighter):
    """Loss-scale balancing (log of each loss) plus gradient-magnitude balancing.

    Per step, with ``θ`` = ``model.shared_parameters()``:

    * Algorithm 1 step 6: ``g_k = grad_θ log(L_k + 1e-8)`` (one backward pass per task);
    * eq. (1), step 7: ``ĝ_k <- beta ĝ_k + (1 - beta) g_k``, ``beta = 0.9``, buffers start at 0;
    * eq. (2), step 9: shared gradient ``alpha sum_k ĝ_k / (||ĝ_k|| + 1e-8)``,
      ``alpha = max_k ||ĝ_k||`` (:func:`balance_gradients`);
    * step 12: every other (task-specific) parameter receives ``grad log(L_k + 1e-8)`` of its
      tasks, i.e. the gradient of ``sum_k log(L_k + 1e-8)``.

    Reported weights: the scale ``alpha / (||ĝ_k|| + 1e-8)`` applied to each task's (EMA, log-loss)
    direction. The largest-norm task gets 1, the others at least 1, so they sum to at least K;
    they are a different kind of weight than the loss weights of the other methods.
    """

    name = "dbmtl"

    def __init__(self, num_tasks: int, beta: float = 0.9) -> None:
        super().__init__(num_tasks)
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"dbmtl: beta must be in [0, 1), got {beta!r}")
        self.beta = float(beta)
        self._ema: torch.Tensor | None = None
        self._norms: list[float] = [0.0] * num_tasks

    def backward(self, losses: torch.Tensor, model: SharedModel) -> torch.Tensor:
        self._check(losses)
        shared = unique_parameters(model.shared_parameters())
        shared_ids = {id(p) for p in shared}
        specific = [p for p in unique_parameters(model.parameters()) if id(p) not in shared_ids]
        everything = shared + specific
        log_losses = torch.log(losses + EPS)

        task_grads = []
        for k in range(self.num_tasks):
            grads = torch.autograd.grad(
                log_losses[k], everything, retain_graph=k < self.num_tasks - 1, allow_unused=True
            )
            flat = torch.cat(
                [(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads[: len(shared)], shared)]
            )
            task_grads.append(flat)
            for g, p in zip(grads[len(shared):], specific):
                if g is not None:
                    add_grad(p, g)

        current = torch.stack(task_grads)
        if self._ema is None or self._ema.shape != current.shape:
            self._ema = torch.zeros_like(current)
        self._ema = self.beta * self._ema + (1.0 - self.beta) * current
        g_shared, scales = balance_gradients(self._ema)
        offset = 0
        for p in shared:
            n = p.numel()
            add_grad(p, g_shared[offset : offset + n].view_as(p))
            offset += n
        self._norms = self._ema.norm(dim=1).tolist()
        return scales.detach()

    def extra_state(self) -> ExtraState:
        return {"grad_norms": list(self._norms)}
