"""DMF Bayesian weighting (Golnari & Diba, eqs. 7-8, with the scaling of eqs. 9-10)."""

from __future__ import annotations

import torch

from busmtl.weighting.base import ExtraState
from busmtl.weighting.dmf_memory import EPS, DMFWeighter, mad


def posterior(prior: torch.Tensor, likelihood: torch.Tensor) -> torch.Tensor:
    """Eq. (8): ``p_k lik_k / sum_j p_j lik_j``."""
    joint = prior * likelihood
    return joint / joint.sum()


class DMFBayes(DMFWeighter):
    """``w ∝ prior * 1 / (MAD + eps)``, the prior replaced by the posterior after each update.

    Likelihood ``p(MAD_k | data) ∝ 1 / (MAD(H_k) + eps)`` (eq. 7); posterior by eq. (8). As in
    the paper's code, the posterior becomes the next step's prior, starting from a uniform prior,
    so evidence accumulates over steps. The paper's weights sum to 1; these are K times that.
    ``min_prior`` (default 1e-6, not in the paper) floors the prior before renormalising so a
    task's weight cannot underflow to exactly 0 after many steps.
    """

    name = "dmf_bayes"
    label = "DMF-Bayes"
    reference = "golnari2025dmf"
    summary = "a Bayesian update of the weights from the loss memory"

    def __init__(self, num_tasks: int, history: int = 100, warmup: int = 50, min_prior: float = 1e-6) -> None:
        super().__init__(num_tasks, history=history, warmup=warmup)
        if not 0.0 <= float(min_prior) < 1.0 / num_tasks:
            raise ValueError(f"dmf_bayes: min_prior must be in [0, 1/K), got {min_prior!r}")
        self.min_prior = float(min_prior)
        self.prior = torch.full((num_tasks,), 1.0 / num_tasks, dtype=torch.float64)

    def rule(self, scaled: torch.Tensor) -> torch.Tensor:
        deviation = mad(scaled)
        self._statistic = deviation.tolist()
        post = posterior(self.prior, 1.0 / (deviation + EPS))
        floored = post.clamp_min(self.min_prior)
        self.prior = floored / floored.sum()
        return self.num_tasks * post

    def extra_state(self) -> ExtraState:
        state = super().extra_state()
        state["prior"] = self.prior.tolist()
        return state
