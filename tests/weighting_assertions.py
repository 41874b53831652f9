"""Properties every loss weighter must have, written once as ``assert_*`` functions (in the style
of torchjd's property tests) and applied to each registered method by
``tests/test_weighting_properties.py``.

An assertion takes ``make``, a function ``num_tasks -> Weighter`` that builds a fresh weighter,
and trains the toy network of ``tests/weighting_toy.py`` with it through the library's own step,
:func:`busmtl.training.step.train_step`. What a method promises is read from its class
(:class:`busmtl.weighting.base.Weighter`): ``sums_to_k``, ``positive_weights``,
``weighted_sum_gradient`` and ``scale_invariant``. A new weighter therefore gets the checks that
fit it without being named here, and a weighter outside the registry can be checked too::

    assert_expected_structure(lambda k: MyWeighter(k), VIEWS[0])
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.testing import assert_close
from weighting_toy import ToyMTL, toy_batch

from busmtl.training.step import StepLosses, train_step
from busmtl.weighting import get_weighter, hyperparameters
from busmtl.weighting.base import Weighter

Make = Callable[[int], Weighter]

#: Steps of a run: 4 epochs of 2 steps, so DWA/ATDWA leave equal weighting (from epoch 3 on) and
#: the DMF memory (shortened by :func:`make_weighter`) passes its warm-up.
STEPS = 8
EPOCH_EVERY = 2


def make_weighter(name: str) -> Make:
    """``num_tasks -> weighter`` for a registered method, with its defaults, except a loss memory
    of 6 steps (warm-up 3) for methods that keep one, so a short run reaches its steady state."""
    short = {"history": 6, "warmup": 3}
    hparams = {k: v for k, v in short.items() if k in hyperparameters(name)}
    return lambda num_tasks: get_weighter(name, num_tasks, **hparams)


@dataclass(frozen=True)
class View:
    """How the toy's losses ``[L_seg, L_cls]`` are shown to a weighter (torchjd's input
    matrices): the weighter sees ``apply(losses)``, ``num_tasks`` of them."""

    name: str
    num_tasks: int
    apply: Callable[[Tensor], Tensor]

    def __repr__(self) -> str:
        return self.name


#: The inputs every weighter is checked on.
VIEWS: tuple[View, ...] = (
    View("toy", 2, lambda losses: losses),
    View("task 1 x 1000", 2, lambda losses: losses * torch.tensor([1.0, 1000.0])),
    # a task that has stopped learning: a constant loss with zero gradient
    View("task 0 constant", 2, lambda losses: torch.stack([0.0 * losses[0] + 0.7, losses[1]])),
    View("three tasks", 3, lambda losses: torch.cat([losses, losses.mean().reshape(1)])),
)
TOY = VIEWS[0]
SWAPPED = View("tasks swapped", 2, lambda losses: losses.flip(0))


@dataclass
class ToyRun:
    """The toy network trained with one weighter, one :func:`busmtl.training.step.train_step` per batch;
    an epoch (``weighter.epoch_end`` with the mean losses) every :data:`EPOCH_EVERY` steps.

    ``train_network=False`` keeps the network fixed (its learning rate is 0; the weighter's own
    parameters still learn), so that two runs see the same network whatever their weights were.
    """

    make: Make
    view: View = TOY
    seed: int = 0
    lr: float = 1e-2
    train_network: bool = True
    #: hand the toy's losses to the step apart (:class:`StepLosses`, as the trainer does) rather
    #: than stacked (only with the plain toy view)
    apart: bool = False
    losses: list[Tensor] = field(default_factory=list)
    weights: list[Tensor] = field(default_factory=list)
    finite_gradients: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        torch.manual_seed(self.seed)
        self.model = ToyMTL()
        self.weighter = self.make(self.view.num_tasks)
        self.optimizer = torch.optim.Adam([
            {"params": self.model.parameters(), "lr": self.lr if self.train_network else 0.0},
            {"params": self.weighter.network_parameters()},
        ], lr=self.lr)
        self._epoch: list[Tensor] = []

    def next_batch(self) -> tuple[Tensor, Tensor, Tensor]:
        return toy_batch(self.seed + len(self.weights))

    def view_losses(self, model: ToyMTL, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        return self.view.apply(model.losses(*batch))

    def step(self) -> Tensor:
        """One training step; returns the weights it applied."""
        batch = self.next_batch()
        def compute() -> Tensor | StepLosses:
            if self.apart:
                return StepLosses(self.model.loss_terms(*batch))
            return self.view_losses(self.model, batch)

        losses, weights = train_step(self.model, self.weighter, self.optimizer, compute)
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        self.finite_gradients.append(bool(grads) and all(bool(g.isfinite().all()) for g in grads))
        self.losses.append(losses)
        self.weights.append(weights)
        self._epoch.append(losses)
        if len(self._epoch) == EPOCH_EVERY:
            self.weighter.epoch_end(torch.stack(self._epoch).mean(0))
            self._epoch = []
        return weights

    def run(self, steps: int = STEPS) -> ToyRun:
        # one thread: the toy gains nothing from more, and on a busy machine OpenMP's waits made
        # these tests 5x slower
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for _ in range(steps):
                self.step()
        finally:
            torch.set_num_threads(threads)
        return self


def assert_expected_structure(make: Make, view: View) -> None:
    """At every step the weights are a detached vector of K finite values that keep the method's
    promises (``positive_weights``: > 0, else >= 0; ``sums_to_k``: they sum to K), and the
    network's gradients are finite."""
    run = ToyRun(make, view).run()
    w = run.weighter
    for step, weights in enumerate(run.weights):
        where = f"{w.name or type(w).__name__}, {view}, step {step}: {weights.tolist()}"
        assert weights.shape == (view.num_tasks,) and not weights.requires_grad, where
        assert weights.isfinite().all(), where
        if w.positive_weights:
            assert (weights > 0).all(), where
        elif not w.signed_weights:
            assert (weights >= 0).all(), where
        if w.sums_to_k:
            assert_close(weights.sum().item(), float(view.num_tasks), rtol=1e-5, atol=0, msg=where)
    assert all(run.finite_gradients), f"{view}: non-finite gradients at some step"


def assert_gradient_is_weighted_sum(make: Make, view: View) -> None:
    """After a step (past every warm-up) the network's gradient is that of ``sum_k w_k L_k``
    computed by autograd with the returned weights as constants (for ``weighted_sum_gradient``
    methods: EW, DWA, ATDWA, DMF-*, GradNorm's network update, UW's whose ``0.5 s_k`` term has
    no network parameter)."""
    run = ToyRun(make, view).run()
    reference = copy.deepcopy(run.model)
    reference_losses = run.view_losses(reference, run.next_batch())
    weights = run.step()
    params = list(reference.parameters())
    expected = torch.autograd.grad((weights * reference_losses).sum(), params, allow_unused=True)
    for (name, p), g in zip(run.model.named_parameters(), expected):
        got = p.grad if p.grad is not None else torch.zeros_like(p)
        want = g if g is not None else torch.zeros_like(p)
        assert_close(got, want, rtol=1e-5, atol=1e-7, msg=f"{view}: gradient of {name}")


def assert_shared_gradient_is_weighted_sum(make: Make, view: View) -> None:
    """After a step, the shared parameters' gradient is that of ``sum_k w_k L_k`` with the
    returned weights as constants, and every other parameter's that of ``sum_k L_k`` (for
    ``shared_weighted_sum_gradient`` methods: the gradient balancing of torchjd's aggregators,
    over the parameters or the representation)."""
    run = ToyRun(make, view).run()
    reference = copy.deepcopy(run.model)
    reference_losses = run.view_losses(reference, run.next_batch())
    weights = run.step()
    shared = {id(p) for p in reference.shared_parameters()}
    params = list(reference.parameters())
    weighted = torch.autograd.grad((weights * reference_losses).sum(), params, retain_graph=True,
                                   allow_unused=True)
    plain = torch.autograd.grad(reference_losses.sum(), params, allow_unused=True)
    for (name, p), q, gw, gp in zip(run.model.named_parameters(), params, weighted, plain):
        g = gw if id(q) in shared else gp
        got = p.grad if p.grad is not None else torch.zeros_like(p)
        want = g if g is not None else torch.zeros_like(p)
        assert_close(got, want, rtol=1e-4, atol=1e-6, msg=f"{view}: gradient of {name}")


def assert_task_order_does_not_matter(make: Make) -> None:
    """Swapping the two tasks (the order of the losses the weighter sees, at every step and
    epoch) swaps the weights and leaves the training unchanged: no task is favoured by its
    index."""
    plain = ToyRun(make, TOY).run()
    swapped = ToyRun(make, SWAPPED).run()
    for step, (a, b) in enumerate(zip(plain.weights, swapped.weights)):
        assert_close(b, a.flip(0), rtol=1e-4, atol=1e-6, msg=f"weights at step {step}")
    for (name, p), q in zip(plain.model.named_parameters(), swapped.model.parameters()):
        assert_close(q, p, rtol=1e-4, atol=1e-6, msg=f"{name} after training")


def assert_weights_unchanged_by(make: Make, *views: View) -> None:
    """On a fixed network, the weights a method applies when it sees each of
    ``views`` of the losses are those it applies to the plain losses, at every step."""
    plain = ToyRun(make, TOY, train_network=False).run()
    for view in views:
        other = ToyRun(make, view, train_network=False).run()
        for step, (a, b) in enumerate(zip(plain.weights, other.weights)):
            assert_close(b, a, rtol=1e-4, atol=1e-6, msg=f"{view}, step {step}")


def scaled(c: float, task: int = 1) -> View:
    """Task ``task``'s loss multiplied by ``c``."""
    factor = torch.ones(2)
    factor[task] = c
    return View(f"task {task} x {c}", 2, lambda losses: losses * factor)


def assert_scale_invariant(make: Make) -> None:
    """``scale_invariant`` methods: multiplying a task's loss by a constant (7 or 1/7, either
    task) at every step does not change the weights."""
    assert_weights_unchanged_by(make, *(scaled(c, task) for task in (0, 1) for c in (7.0, 1 / 7)))


def assert_losses_given_apart_change_nothing(make: Make) -> None:
    """The losses handed to the step as separate scalars (what the trainer does, so that a
    per-task gradient runs through its own head only) or stacked into one tensor give the same
    weights and the same trained network, bit for bit, at every step."""
    stacked, apart = ToyRun(make).run(), ToyRun(make, apart=True).run()
    for step, (a, b) in enumerate(zip(stacked.weights, apart.weights)):
        assert torch.equal(a, b), f"step {step}: weights {a.tolist()} stacked, {b.tolist()} apart"
    for (name, p), q in zip(stacked.model.named_parameters(), apart.model.parameters()):
        assert torch.equal(p, q), f"{name} differs after training with the losses apart"
