"""Properties every registered weighter must satisfy (torchjd-style), on a toy 2-task network."""

from __future__ import annotations

import math

import pytest
import torch
from weighting_toy import ToyMTL, toy_batch

from busmtl.weighting import WEIGHTERS, available, get_weighter, hyperparameters

ALL = available()
#: Weighters whose weights sum to K by construction (UW and DB-MTL document other scales).
SUM_TO_K = [m for m in ALL if m not in ("uw", "dbmtl")]
SMALL = {"dmf_var": {"history": 6, "warmup": 3}, "dmf_mad": {"history": 6, "warmup": 3},
         "dmf_bayes": {"history": 6, "warmup": 3}}


def run_steps(name: str, steps: int = 8, seed: int = 0, epoch_every: int = 2):
    torch.manual_seed(seed)
    model = ToyMTL()
    weighter = get_weighter(name, 2, **SMALL.get(name, {}))
    params = list(model.parameters()) + weighter.network_parameters()
    opt = torch.optim.Adam(params, lr=1e-2)
    history, epoch = [], []
    for step in range(steps):
        opt.zero_grad()
        losses = model.losses(*toy_batch(seed + step))
        weights = weighter.backward(losses, model)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), f"{name}: non-finite grads"
        opt.step()
        history.append(weights)
        epoch.append(losses.detach())
        if (step + 1) % epoch_every == 0:
            weighter.epoch_end(torch.stack(epoch).mean(0))
            epoch = []
    return model, weighter, history


def test_registry_is_keyed_by_each_class_name():
    """No list of methods here: a weighter added by following the book is tested like the rest."""
    assert {"ew", "dwa", "atdwa"} <= set(ALL)                       # the paper's methods
    assert all(WEIGHTERS[name].name == name for name in ALL) and len(set(ALL)) == len(ALL)


@pytest.mark.parametrize("name", ALL)
def test_weights_finite_positive_right_length(name):
    _, _, history = run_steps(name)
    for w in history:
        assert w.shape == (2,) and not w.requires_grad
        assert torch.isfinite(w).all() and (w > 0).all(), f"{name}: {w}"


@pytest.mark.parametrize("name", SUM_TO_K)
def test_weights_sum_to_k(name):
    _, _, history = run_steps(name)
    for w in history:
        assert math.isclose(float(w.sum()), 2.0, rel_tol=1e-5)


def test_uw_and_dbmtl_document_their_scale():
    _, _, uw = run_steps("uw")
    assert torch.allclose(uw[0], torch.tensor([0.5, 0.5]))  # 0.5 exp(-0) at init
    _, _, db = run_steps("dbmtl")
    for w in db:  # the largest-norm task gets 1, the others >= 1
        assert math.isclose(float(w.min()), 1.0, rel_tol=1e-5) and float(w.sum()) >= 2.0 - 1e-6


@pytest.mark.parametrize("name", ALL)
def test_parameters_are_updated(name):
    torch.manual_seed(0)
    before = [p.detach().clone() for p in ToyMTL().parameters()]
    model, _, _ = run_steps(name, steps=1)
    changed = [not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters())]
    assert all(changed), f"{name}: some parameters received no update"


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_fixed_seed(name):
    m1, _, h1 = run_steps(name, seed=3)
    m2, _, h2 = run_steps(name, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(h1, h2))
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))


@pytest.mark.parametrize("name", ALL)
def test_extra_state_is_loggable(name):
    _, weighter, _ = run_steps(name)
    for key, value in weighter.extra_state().items():
        values = value if isinstance(value, list) else [value]
        assert all(isinstance(v, float) and math.isfinite(v) for v in values), (name, key, value)


@pytest.mark.parametrize("name", ALL)
def test_wrong_number_of_losses_is_refused(name):
    weighter = get_weighter(name, 2)
    with pytest.raises(ValueError, match="2 task losses"):
        weighter.backward(torch.ones(3, requires_grad=True), ToyMTL())


def test_unknown_method_lists_valid_names():
    with pytest.raises(ValueError, match="unknown weighting method 'nope'.*ew, dwa, atdwa"):
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


def test_only_uw_exposes_network_parameters():
    for name in ALL:
        expected = 1 if name == "uw" else 0
        assert len(get_weighter(name, 2).network_parameters()) == expected, name
