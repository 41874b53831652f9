"""Gradient balancing through torchjd: the shared Jacobian of the K losses, aggregated into one
update by a :class:`torchjd.aggregation.Aggregator`.

Two Jacobians are offered (hyper-parameter ``jacobian``):

* ``"parameters"``: the K x n Jacobian of the losses with respect to the shared parameters
  (``model.shared_parameters()``), by :func:`torchjd.autojac.mtl_backward` through the shared
  representation, aggregated by :func:`torchjd.autojac.jac_to_grad`;
* ``"representation"``: the K x m Jacobian with respect to the shared representation
  (``model.shared_representation()``, the encoder's output as the heads read it, a cut of the
  graph: :mod:`busmtl.models.representation`; LibMTL's ``rep_grad``), one row per
  task by a backward pass through that task's head only; the aggregated vector ``d`` is then
  back-propagated once through the encoder. Cheaper (m << n for the encoder) and approximate.

The task-specific parameters get the gradient of ``sum_k L_k`` in both cases (torchjd's
``mtl_backward`` and LibMTL's convention: only the shared part is balanced).

The returned weights are the ``w`` with ``d = w^T J`` that the aggregator applies (its
``Weighting``'s output) when it is a weighted aggregator; for the others (GradDrop, ConFIG) they
are the coefficients of the least-squares projection of ``d`` onto the task gradients,
``w = (J J^T)^+ J d``, which may be negative.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from busmtl.weighting.base import (
    ExtraState,
    Losses,
    SharedModel,
    Weighter,
    add_grad,
    split_parameters,
    unique_parameters,
)

if TYPE_CHECKING:
    from torchjd.aggregation import Aggregator

#: The Jacobians a gradient-balancing weighter can aggregate.
JACOBIANS: tuple[str, ...] = ("parameters", "representation")


def projection_weights(matrix: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """``w = (J J^T)^+ J d``: the coefficients of the task gradients (rows of ``J``) whose sum is
    the orthogonal projection of ``d`` onto their span (``d`` itself when it lies in it)."""
    gramian = matrix @ matrix.T
    return torch.linalg.pinv(gramian, hermitian=True) @ (matrix @ direction)


class JacobianWeighter(Weighter):
    """Base of the torchjd aggregators: ``d = A(J)`` for the shared part (see the module
    docstring); subclasses only build their aggregator in :meth:`make_aggregator`.

    Promises: the shared parameters' gradient is ``d = w^T J`` (``shared_weighted_sum_gradient``,
    for weighted aggregators), which is the gradient of ``sum_k w_k L_k`` with respect to them;
    the weights are on each aggregator's own scale (not K) and may be zero.
    """

    sums_to_k = False
    positive_weights = False
    weighted_sum_gradient = False
    shared_weighted_sum_gradient = True
    per_task_gradients = True
    #: Optional modules of torchjd the aggregator needs (its solver), checked when built.
    requires: tuple[str, ...] = ()

    def __init__(self, num_tasks: int, jacobian: str = "parameters") -> None:
        super().__init__(num_tasks)
        if jacobian not in JACOBIANS:
            raise ValueError(
                f"{self.name}: jacobian must be one of {', '.join(JACOBIANS)}, got {jacobian!r}"
            )
        self.jacobian = jacobian
        require_modules(self.name, self.requires)
        self.aggregator = self.make_aggregator()

    @abstractmethod
    def make_aggregator(self) -> Aggregator:
        """The torchjd aggregator of the method, with this weighter's hyper-parameters."""

    def backward(self, losses: Losses, model: SharedModel) -> torch.Tensor:
        from torchjd.aggregation import WeightedAggregator

        terms = self.terms(losses)  # per-task gradients, each through its own head only
        losses = self._check(losses)
        seen: dict[str, torch.Tensor] = {}

        def keep_weights(_module: object, _inputs: object, output: torch.Tensor) -> None:
            seen["weights"] = output.detach()

        def keep_matrix(_module: object, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
            seen["matrix"], seen["direction"] = inputs[0].detach(), output.detach()

        weighted = isinstance(self.aggregator, WeightedAggregator)
        hook = (self.aggregator.weighting.register_forward_hook(keep_weights) if weighted
                else self.aggregator.register_forward_hook(keep_matrix))
        try:
            if self.jacobian == "parameters":
                self._parameters_backward(terms, model)
            else:
                self._representation_backward(terms, model)
        finally:
            hook.remove()
        if weighted:
            weights = seen["weights"]
        else:
            weights = projection_weights(seen["matrix"], seen["direction"])
        return weights.to(losses).detach()

    def _parameters_backward(self, terms: list[torch.Tensor], model: SharedModel) -> None:
        from torchjd.autojac import jac_to_grad, mtl_backward

        shared = unique_parameters(model.shared_parameters())
        # the graph is kept: a term added outside the weighting, or losses given stacked, share it
        mtl_backward(terms, features=model.shared_representation(), shared_params=shared,
                     retain_graph=True)
        jac_to_grad(shared, self.aggregator)

    def _representation_backward(self, terms: list[torch.Tensor], model: SharedModel) -> None:
        features = model.shared_representation()
        shared, heads = split_parameters(model)
        rows = []
        for term in terms:
            # one task's gradient with respect to the representation (a row of J) and its heads
            grads = torch.autograd.grad(term, [*features, *heads], retain_graph=True,
                                        allow_unused=True)
            rows.append(jacobian_row(grads[:len(features)], features))
            for p, g in zip(heads, grads[len(features):]):
                if g is not None:
                    add_grad(p, g)
        direction = self.aggregator(torch.stack(rows))
        grads = [g.view_as(f) for g, f in zip(direction.split([f.numel() for f in features]),
                                                features)]
        torch.autograd.backward(features, grads, inputs=shared)

    def extra_state(self) -> ExtraState:
        return {}


def jacobian_row(grads: Sequence[torch.Tensor | None], inputs: Sequence[torch.Tensor]
                 ) -> torch.Tensor:
    """One task's row of the Jacobian: its gradients with respect to ``inputs`` flattened and
    concatenated in order, zeros for an input the task does not reach (``grads`` as
    ``torch.autograd.grad(..., allow_unused=True)`` returns them)."""
    return torch.cat([(g if g is not None else torch.zeros_like(x)).reshape(-1)
                      for g, x in zip(grads, inputs, strict=True)])


def require_modules(method: str, modules: tuple[str, ...]) -> None:
    """A clear error when a solver an aggregator needs (cvxpy for Nash-MTL and CAGrad, scipy for
    FairGrad) is not installed."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"{method} needs {', '.join(missing)}, optional dependencies of torchjd: install them "
            'with pip install "torchjd[full]" (make install does)'
        )
