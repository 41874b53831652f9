"""The properties of ``tests/weighting_assertions.py``, applied to every registered weighter (the
registry decides which methods, each class which promises), plus the registry's contract."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from weighting_assertions import (
    STEPS,
    VIEWS,
    ToyRun,
    View,
    assert_expected_structure,
    assert_gradient_is_weighted_sum,
    assert_losses_given_apart_change_nothing,
    assert_scale_invariant,
    assert_shared_gradient_is_weighted_sum,
    assert_task_order_does_not_matter,
    assert_weights_unchanged_by,
    make_weighter,
)
from weighting_assertions import (
    TOY as TOY_VIEW,
)
from weighting_toy import ToyMTL

from busmtl.weighting import WEIGHTERS, available, get_weighter, hyperparameters
from busmtl.weighting.dmf_memory import DMFWeighter
from busmtl.weighting.jacobian import JacobianWeighter

ALL = available()
WEIGHTED_SUM = [n for n in ALL if WEIGHTERS[n].weighted_sum_gradient]
SHARED_WEIGHTED_SUM = [n for n in ALL if WEIGHTERS[n].shared_weighted_sum_gradient]
SCALE_INVARIANT = [n for n in ALL if WEIGHTERS[n].scale_invariant]
DETERMINISTIC_IN_ORDER = [n for n in ALL if not WEIGHTERS[n].stochastic]
JACOBIAN = [n for n in ALL if issubclass(WEIGHTERS[n], JacobianWeighter)]
DMF = [n for n in ALL if issubclass(WEIGHTERS[n], DMFWeighter)]
BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"


@pytest.mark.parametrize("view", VIEWS, ids=repr)
@pytest.mark.parametrize("name", ALL)
def test_expected_structure(name, view):
    assert_expected_structure(make_weighter(name), view)


@pytest.mark.parametrize("view", [v for v in VIEWS if v.name in ("toy", "three tasks")], ids=repr)
@pytest.mark.parametrize("name", WEIGHTED_SUM)
def test_gradient_is_that_of_the_weighted_sum(name, view):
    assert_gradient_is_weighted_sum(make_weighter(name), view)


@pytest.mark.parametrize("view", [v for v in VIEWS if v.name in ("toy", "three tasks")], ids=repr)
@pytest.mark.parametrize("name", SHARED_WEIGHTED_SUM)
def test_shared_gradient_is_that_of_the_weighted_sum(name, view):
    assert_shared_gradient_is_weighted_sum(make_weighter(name), view)


def on_representation(name: str):
    return lambda num_tasks: get_weighter(name, num_tasks, jacobian="representation")


@pytest.mark.parametrize("name", JACOBIAN)
def test_representation_jacobian_keeps_the_promises(name):
    """With ``jacobian="representation"`` (LibMTL's rep_grad) the same promises hold."""
    for view in VIEWS:
        assert_expected_structure(on_representation(name), view)
    if WEIGHTERS[name].shared_weighted_sum_gradient:
        assert_shared_gradient_is_weighted_sum(on_representation(name), TOY_VIEW)


def test_registry_is_keyed_by_each_class_name():
    """No list of methods here: a weighter added by following the book is tested like the rest."""
    assert {"ew", "dwa", "atdwa"} <= set(ALL)                       # the paper's methods
    assert all(WEIGHTERS[name].name == name for name in ALL) and len(set(ALL)) == len(ALL)


@pytest.mark.parametrize("name", DETERMINISTIC_IN_ORDER)
def test_task_order_does_not_matter(name):
    assert_task_order_does_not_matter(make_weighter(name))


@pytest.mark.parametrize("name", SCALE_INVARIANT)
def test_scale_invariance(name):
    assert_scale_invariant(make_weighter(name))


def symlog_affine(a: float, b: float) -> View:
    """Task 1's loss L -> expm1(a log1p(L) + b): its symmetric log (eq. 10) becomes a s + b."""
    def apply(losses):
        return torch.stack([losses[0], torch.expm1(a * torch.log1p(losses[1]) + b)])
    return View(f"symlog(L_1) -> {a} symlog(L_1) + {b}", 2, apply)


@pytest.mark.parametrize("name", DMF)
def test_dmf_min_max_scaling_removes_each_task_s_scale(name):
    """Eq. (9) maps each task's symlog memory to [0, 1], so a positive affine change of one
    task's symlog loss leaves the DMF weights as they were."""
    assert_weights_unchanged_by(make_weighter(name), symlog_affine(3.0, 0.0), symlog_affine(0.5, 2.0))


@pytest.mark.parametrize("name", ALL)
def test_losses_given_apart_change_nothing(name):
    assert_losses_given_apart_change_nothing(make_weighter(name))


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_is_updated(name):
    """The network's parameters and the weighter's network parameters (UW's s_k) all move."""
    untrained = ToyRun(make_weighter(name))
    before = [p.detach().clone() for p in untrained.model.parameters()]
    before += [p.detach().clone() for p in untrained.weighter.network_parameters()]
    run = untrained.run(1)
    after = list(run.model.parameters()) + run.weighter.network_parameters()
    still = [i for i, (a, b) in enumerate(zip(before, after)) if torch.equal(a, b)]
    assert not still, f"{name}: parameters {still} received no update"


@pytest.mark.parametrize("name", ALL)
def test_network_parameters_belong_to_the_weighter(name):
    """What the network's optimizer must update is registered on the weighter (so it moves with
    ``.to(device)`` and is in ``state_dict``) and gets a finite gradient from ``backward``."""
    run = ToyRun(make_weighter(name)).run(1)
    own = {id(p) for p in run.weighter.parameters()}
    for p in run.weighter.network_parameters():
        assert id(p) in own and p.grad is not None and p.grad.isfinite().all()


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_fixed_seed(name):
    a = ToyRun(make_weighter(name), seed=3).run()
    b = ToyRun(make_weighter(name), seed=3).run()
    assert all(torch.equal(x, y) for x, y in zip(a.weights, b.weights))
    assert all(torch.equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters()))


@pytest.mark.parametrize("name", ALL)
def test_extra_state_is_loggable(name):
    run = ToyRun(make_weighter(name)).run()
    assert len(run.weights) == STEPS
    for key, value in run.weighter.extra_state().items():
        values = value if isinstance(value, list) else [value]
        assert all(isinstance(v, float) and math.isfinite(v) for v in values), (name, key, value)


@pytest.mark.parametrize("name", ALL)
def test_wrong_number_of_losses_is_refused(name):
    weighter = get_weighter(name, 2)
    with pytest.raises(ValueError, match="2 task losses"):
        weighter.backward(torch.ones(3, requires_grad=True), ToyMTL())


@pytest.mark.parametrize("name", ALL)
def test_defaults_of_the_hyperparameters_build_the_weighter(name):
    """``hyperparameters`` lists what ``get_weighter`` accepts, with working defaults."""
    weighter = get_weighter(name, 2, **hyperparameters(name))
    assert isinstance(weighter, WEIGHTERS[name])


@pytest.mark.parametrize("name", ALL)
def test_method_record_is_complete(name):
    """The book cites ``reference`` from references.bib (a weighter of one's own may have none)
    and shows ``label`` and ``summary``."""
    cls = WEIGHTERS[name]
    assert cls.name == name and cls.label and cls.summary
    keys = re.findall(r"^@\w+\{([^,]+),", BIB.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert not cls.reference or cls.reference in keys, f"{name}: {cls.reference!r} is not in {BIB.name}"


def test_unknown_method_lists_valid_names():
    with pytest.raises(ValueError, match=f"unknown weighting method 'nope'.*{', '.join(ALL)}"):
        get_weighter("nope", 2)


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) tau for 'atdwa'.*T0=2.0"):
        get_weighter("atdwa", 2, tau=1.0)


@pytest.mark.parametrize("name,bad", [("dwa", {"T": 0}), ("atdwa", {"window": 0}), ("gradnorm", {"layer": "x"}),
                                      ("dbmtl", {"beta": 1.0}), ("dmf_var", {"warmup": 1})])
def test_bad_hyperparameter_values_are_named(name, bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=key):
        get_weighter(name, 2, **bad)




def test_every_weighter_has_a_docstring():
    for name, cls in WEIGHTERS.items():
        assert cls.__doc__ and cls.__doc__.strip(), name
    assert set(hyperparameters("atdwa")) == {"T0", "gamma", "window", "ddof"}


def test_only_uw_and_imtl_l_expose_network_parameters():
    for name in ALL:
        expected = 1 if name in ("uw", "imtl_l") else 0
        assert len(get_weighter(name, 2).network_parameters()) == expected, name
