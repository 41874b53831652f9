"""Dual-Balancing Multi-Task Learning (DB-MTL), Lin et al. (Algorithm 1, eqs. 1-2)."""

from __future__ import annotations

import torch

from busmtl.weighting.base import (
    ExtraState,
    Losses,
    SharedModel,
    Weighter,
    add_grad,
    split_parameters,
)

#: The epsilon of Algorithm 1 (inside the log and in the normalization).
EPS = 1e-8


def balance_scales(norms: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. (2) / Algorithm 1 step 9: ``scales_k = alpha / (||ĝ_k|| + eps)``, ``alpha = max_k ||ĝ_k||``."""
    return norms.max() / (norms + eps)


def balance_gradients(ema_grads: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (2) on flattened gradients ``[K, P]``: returns ``(g_shared, scales)`` with
    ``g_shared = sum_k scales_k ĝ_k``, i.e. every task direction rescaled to the largest norm."""
    scales = balance_scales(ema_grads.norm(dim=1), eps)
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
    label = "DB-MTL"
    reference = "lin2023dbmtl"
    summary = "log losses and gradients rescaled to the largest norm"
    sums_to_k = False
    weighted_sum_gradient = False
    scale_invariant = True  # grad log(c L_k) = grad log L_k
    per_task_gradients = True

    def __init__(self, num_tasks: int, beta: float = 0.9) -> None:
        super().__init__(num_tasks)
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"dbmtl: beta must be in [0, 1), got {beta!r}")
        self.beta = float(beta)
        #: ``_ema[k][i]``: EMA gradient of task k for shared parameter i (Algorithm 1, step 7).
        self._ema: list[list[torch.Tensor]] | None = None
        self._norms: list[float] = [0.0] * num_tasks

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        terms = self.terms(losses)  # per-task gradients, each through its own head only
        self._check(losses)
        shared, specific = split_parameters(model)
        everything = shared + specific
        log_losses = [torch.log(term + EPS) for term in terms]

        n_shared = len(shared)
        for k in range(self.num_tasks):
            grads = torch.autograd.grad(
                log_losses[k], everything, retain_graph=k < self.num_tasks - 1, allow_unused=True
            )
            shared_grads = [g if g is not None else torch.zeros_like(p)
                            for g, p in zip(grads[:n_shared], shared)]
            for g, p in zip(grads[n_shared:], specific):
                if g is not None:
                    add_grad(p, g)
            # eq. (1), in place per parameter: ema_k <- beta ema_k + (1 - beta) g_k
            if self._ema is None or len(self._ema) < self.num_tasks:
                self._ema = (self._ema or []) + [[torch.zeros_like(p) for p in shared]]
            torch._foreach_mul_(self._ema[k], self.beta)
            torch._foreach_add_(self._ema[k], shared_grads, alpha=1.0 - self.beta)

        norms = torch.stack([torch.linalg.vector_norm(torch.stack(torch._foreach_norm(ema)))
                             for ema in self._ema])
        scales = balance_scales(norms)
        combined = torch._foreach_mul(self._ema[0], scales[0])
        for k in range(1, self.num_tasks):
            torch._foreach_add_(combined, torch._foreach_mul(self._ema[k], scales[k]))
        for p, g in zip(shared, combined):
            add_grad(p, g)
        self._norms = norms.tolist()
        return scales.detach()

    def extra_state(self) -> ExtraState:
        return {"grad_norms": list(self._norms)}
