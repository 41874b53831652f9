"""The gradient-balancing methods of torchjd, one registry record each: a
:class:`~busmtl.weighting.jacobian.JacobianWeighter` that builds the method's aggregator.

Notation: ``g_k`` the gradient of task k with respect to the shared part (row k of the Jacobian
``J``), ``G = J J^T`` its Gramian, ``d`` the update given to the shared part, ``w`` the returned
weights (``d = w^T J`` for every method here but GradDrop and ConFIG; see
:mod:`busmtl.weighting.jacobian`). Every class takes ``jacobian="parameters" | "representation"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from busmtl.weighting.jacobian import JacobianWeighter

if TYPE_CHECKING:
    from torchjd.aggregation import Aggregator


class UPGrad(JacobianWeighter):
    """UPGrad (unconflicting projection of gradients), Quinton & Rey 2024, Sec. 3 (the
    definition of ``A_UPGrad``): ``d = (1/K) sum_k pi_J(g_k)``, where ``pi_J(g)`` projects ``g``
    onto the dual cone ``{x : J x >= 0}``, so ``d`` conflicts with no task. ``w`` are the dual
    coefficients (non-negative), ``d = w^T J``."""

    name = "upgrad"
    label = "UPGrad"
    reference = "quinton2024jacobian"
    summary = "mean of each task gradient projected onto the dual cone of all of them"

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import UPGrad as Agg

        return Agg()


class MGDA(JacobianWeighter):
    """MGDA-UB, Sener & Koltun 2018: the min-norm point of the convex hull of the gradients,
    ``w = argmin_{w >= 0, sum w = 1} ||w^T J||^2`` (their eq. 3), solved by Frank-Wolfe (their
    Algorithm 2; stopped when the step is below ``epsilon``). Weights sum to 1. For two tasks it
    is ``alpha = clip((g2 - g1) . g2 / ||g1 - g2||^2, 0, 1)``, ``w = [alpha, 1 - alpha]``."""

    name = "mgda"
    label = "MGDA"
    reference = "sener2018mgda"
    summary = "min-norm point of the convex hull of the task gradients"

    def __init__(self, num_tasks: int, jacobian: str = "parameters", epsilon: float = 1e-3,
                 max_iters: int = 100) -> None:
        self.epsilon, self.max_iters = float(epsilon), int(max_iters)
        super().__init__(num_tasks, jacobian)

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import MGDA as Agg

        return Agg(epsilon=self.epsilon, max_iters=self.max_iters)


class PCGrad(JacobianWeighter):
    """PCGrad (projecting conflicting gradients), Yu et al. 2020, Algorithm 1: for every task i,
    in random order over the others j, ``g_i <- g_i - (g_i . g_j / ||g_j||^2) g_j`` when
    ``g_i . g_j < 0``; ``d = sum_i g_i``. The weights are >= 1 each (1 plus the projection
    coefficients) and the method is random for three or more tasks (the order)."""

    name = "pcgrad"
    label = "PCGrad"
    reference = "yu2020pcgrad"
    summary = "projects each conflicting gradient onto the other's normal plane"

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import PCGrad as Agg

        return Agg()


class CAGrad(JacobianWeighter):
    """CAGrad (conflict-averse gradient descent), Liu et al. 2021, Algorithm 1: with ``g_0`` the
    mean gradient, ``d = g_0 + (sqrt(c) ||g_0|| / ||g_w||) g_w`` where ``g_w = w^T J`` and ``w``
    minimises ``g_w . g_0 + sqrt(c) ||g_0|| ||g_w||`` over the simplex (their eq. 2-3, dual
    form). ``c`` in [0, 1) trades the average loss for the worst one. Needs cvxpy."""

    name = "cagrad"
    label = "CAGrad"
    reference = "liu2021cagrad"
    summary = "maximises the worst task improvement near the average gradient"
    requires = ("cvxpy", "clarabel")

    def __init__(self, num_tasks: int, jacobian: str = "parameters", c: float = 0.4) -> None:
        if not 0.0 <= float(c) < 1.0:
            raise ValueError(f"cagrad: c must be in [0, 1), got {c!r}")
        self.c = float(c)
        super().__init__(num_tasks, jacobian)

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import CAGrad as Agg

        return Agg(c=self.c)


class IMTLG(JacobianWeighter):
    """IMTL-G (impartial MTL, gradient balance), Liu et al. 2021, Sec. 3.2: ``d = w^T J`` whose
    projections on every unit gradient are equal, ``d . u_k = d . u_1`` with
    ``u_k = g_k / ||g_k||``, and ``sum_k w_k = 1`` (closed form ``w = G^+ 1 / 1^T G^+ 1`` up to
    the row norms; torchjd's generalisation to dependent rows)."""

    name = "imtl_g"
    label = "IMTL-G"
    reference = "liu2021imtl"
    summary = "equal projection of the update on every task's unit gradient"
    signed_weights = True  # the equal-projection solution may give a task a negative weight

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import IMTLG as Agg

        return Agg()


class NashMTL(JacobianWeighter):
    """Nash-MTL, Navon et al. 2022, Algorithm 1: the bargaining solution ``w`` with
    ``G w = 1 / w`` (their eq. 3; solved by a sequence of convex problems in cvxpy), ``d = w^T J``
    rescaled so that ``||d|| <= max_norm``. Needs cvxpy."""

    name = "nash_mtl"
    label = "Nash-MTL"
    reference = "navon2022nash"
    summary = "Nash bargaining solution over the task gradients"
    requires = ("cvxpy", "ecos")

    def __init__(self, num_tasks: int, jacobian: str = "parameters", max_norm: float = 1.0,
                 update_weights_every: int = 1, optim_niter: int = 20) -> None:
        self.max_norm, self.update_weights_every = float(max_norm), int(update_weights_every)
        self.optim_niter = int(optim_niter)
        super().__init__(num_tasks, jacobian)

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import NashMTL as Agg

        return Agg(n_tasks=self.num_tasks, max_norm=self.max_norm,
                   update_weights_every=self.update_weights_every, optim_niter=self.optim_niter)


class AlignedMTL(JacobianWeighter):
    """Aligned-MTL, Senushkin et al. 2023, Algorithm 1: the gradients are replaced by the
    condition-number-1 system ``J' = sigma_min V Sigma^-1 V^T J`` (eigendecomposition
    ``G = V Sigma^2 V^T``, their eq. 9-10) and ``d = (1/K) 1^T J'``; ``w`` are the implied
    coefficients of the original gradients."""

    name = "aligned_mtl"
    label = "Aligned-MTL"
    reference = "senushkin2023aligned"
    summary = "aligns the principal components of the gradient system"
    signed_weights = True  # w = B 1/K with the balance transformation B

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import AlignedMTL as Agg

        return Agg()


class DualProj(JacobianWeighter):
    """DualProj, Quinton & Rey 2024 after GEM (Lopez-Paz & Ranzato 2017, eq. 11): the mean
    gradient projected onto the dual cone, ``d = pi_J((1/K) 1^T J)``, the closest vector to the
    mean that conflicts with no task; ``d = w^T J`` with non-negative dual weights."""

    name = "dualproj"
    label = "DualProj"
    reference = "lopezpaz2017gem"
    summary = "mean gradient projected onto the dual cone of the task gradients"

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import DualProj as Agg

        return Agg()


class GradDrop(JacobianWeighter):
    """GradDrop, Chen et al. 2020, Algorithm 1 lines 10-15: per coordinate, the positive-sign
    purity ``P = (1 + sum_k g_k / sum_k |g_k|) / 2`` and a uniform draw ``U`` keep only the
    positive components (``P > U``) or only the negative ones; ``d`` is the sum of what is kept.
    ``d`` is not a combination of the gradients: the weights are the least-squares coefficients
    ``(J J^T)^+ J d`` and may be negative; the method is random."""

    name = "graddrop"
    label = "GradDrop"
    reference = "chen2020graddrop"
    summary = "random sign dropout of conflicting gradient components"
    shared_weighted_sum_gradient = False
    signed_weights = True

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import GradDrop as Agg

        return Agg()


class GradVac(JacobianWeighter):
    """GradVac (gradient vaccine), Wang et al. 2021, Algorithm 2: like PCGrad, but every pair is
    moved towards an exponential moving average ``phi_ij <- (1 - beta) phi_ij + beta cos(g_i,
    g_j)`` of its cosine similarity (their eq. 5-7), not only when it is negative; ``d = sum_i
    g_i'``. Stateful (the averages) and random over the order for three or more tasks."""

    name = "gradvac"
    label = "GradVac"
    reference = "wang2021gradvac"
    summary = "aligns each gradient pair to its running cosine similarity"

    def __init__(self, num_tasks: int, jacobian: str = "parameters", beta: float = 0.5) -> None:
        if not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"gradvac: beta must be in [0, 1], got {beta!r}")
        self.beta = float(beta)
        super().__init__(num_tasks, jacobian)

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import GradVac as Agg

        return Agg(beta=self.beta)


class ConFIG(JacobianWeighter):
    """ConFIG (conflict-free inverse gradients), Liu et al. 2025, eq. 2: with unit gradients
    ``u_k`` in the rows of ``U``, ``d = (sum_k g_k . v) v`` where ``v`` is the unit vector of
    ``U^+ 1``, the direction with equal cosine to every task. ``d`` lies in the span of the
    gradients; the weights are its coefficients ``(J J^T)^+ J d``."""

    name = "config"
    label = "ConFIG"
    reference = "liu2025config"
    summary = "equal-angle conflict-free direction, length of the summed projections"
    signed_weights = True

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import ConFIG as Agg

        return Agg()


class FairGrad(JacobianWeighter):
    """FairGrad, Ban & Ji 2024, eq. 4: alpha-fair utility maximisation; ``w`` solves
    ``G w = w^(-1/alpha)`` (element-wise), ``d = w^T J``; ``alpha = 1`` is proportional fairness.
    Needs scipy."""

    name = "fairgrad"
    label = "FairGrad"
    reference = "ban2024fairgrad"
    summary = "alpha-fair allocation of the update among the tasks"
    requires = ("scipy",)

    def __init__(self, num_tasks: int, jacobian: str = "parameters", alpha: float = 1.0) -> None:
        if not float(alpha) > 0:
            raise ValueError(f"fairgrad: alpha must be > 0, got {alpha!r}")
        self.alpha = float(alpha)
        super().__init__(num_tasks, jacobian)

    def make_aggregator(self) -> Aggregator:
        from torchjd.aggregation import FairGrad as Agg

        return Agg(alpha=self.alpha)


#: The records, in the order the companion presents them.
AGGREGATORS: tuple[type[JacobianWeighter], ...] = (
    UPGrad, MGDA, PCGrad, CAGrad, IMTLG, NashMTL, AlignedMTL, DualProj, GradDrop, GradVac, ConFIG,
    FairGrad,
)
