"""Hand-computed values for every equation of every weighter, worked out on paper (see the
comments); each test names its equation: the primary (ATDWA) paper's eqs. (1)-(5) for DWA and
ATDWA, Chen et al.'s eqs. (1)-(2) for GradNorm, Kendall et al.'s eq. (7) for UW, Lin et al.'s
Algorithm 1 and eqs. (1)-(2) for DB-MTL, Golnari & Diba's eqs. (3)-(10) for DMF. The properties
that hold for every weighter are in test_weighting_properties.py."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from weighting_assertions import ToyRun, make_weighter
from weighting_toy import ToyMTL, toy_batch

from busmtl.weighting import get_weighter
from busmtl.weighting.atdwa import adaptive_temperature, task_uncertainty
from busmtl.weighting.dbmtl import EPS as DBMTL_EPS
from busmtl.weighting.dbmtl import balance_gradients
from busmtl.weighting.dmf_bayes import posterior
from busmtl.weighting.dmf_memory import mad, median, minmax, normalize_to_k, symlog
from busmtl.weighting.dwa import loss_ratios, softmax_weights
from busmtl.weighting.gradnorm import gradnorm_target, renormalize
from busmtl.weighting.uw import uw_total

HISTORY = [[1.0, 2.0], [0.5, 1.8]]


def after_epochs(name: str, history: list[list[float]], **hp):
    """Weighter ``name`` (2 tasks) after ``epoch_end`` with each of ``history``."""
    w = get_weighter(name, 2, **hp)
    for losses in history:
        w.epoch_end(losses)
    return w


def weights_after(name: str, history: list[list[float]], **hp) -> torch.Tensor:
    return after_epochs(name, history, **hp).current_weights()


# --- EW: L = sum_k L_k (the SSC-ResNet baseline, primary paper Table II) --------------------
def test_ew_gradient_is_the_plain_sum_hand_computed():
    # L_k = a_k theta with a = [2, 1] (LinearToy below): dL/dtheta = 2 + 1 = 3, weights [1, 1]
    model = LinearToy([2.0, 1.0])
    weights = get_weighter("ew", 2).backward(model.losses(), model)
    assert weights.tolist() == [1.0, 1.0] and model.theta.grad.item() == 3.0


# --- DWA, eqs. (1) and (5) ------------------------------------------------------------------
def test_dwa_eq1_loss_ratio_hand_computed():
    # r = [0.5 / (1 + 1e-8), 1.8 / (2 + 1e-8)] = [0.499999995, 0.8999999955]
    assert loss_ratios(HISTORY).tolist() == pytest.approx([0.499999995, 0.8999999955], abs=1e-12)


def test_dwa_eq5_scaled_softmax_hand_computed():
    # 2 * softmax([0.5, 0.9] / 2) = 2 * [1.284025, 1.568312] / 2.852337 = [0.900332, 1.099668]
    w = softmax_weights(torch.tensor([0.5, 0.9], dtype=torch.float64), 2.0)
    assert w.tolist() == pytest.approx([0.900332, 1.099668], abs=1e-6)


def test_dwa_first_two_epochs_are_equal_weighting():
    """Eq. (1) needs two recorded epochs; before that w_k = 1."""
    assert torch.equal(weights_after("dwa", []), torch.ones(2))
    assert torch.equal(weights_after("dwa", HISTORY[:1]), torch.ones(2))


def test_dwa_eq1_eq5_weights_after_two_epochs_hand_computed():
    # r = [0.5/1.0, 1.8/2.0] = [0.5, 0.9]; T = 2 -> exp(.25) = 1.284025, exp(.45) = 1.568312
    # w = 2 * [1.284025, 1.568312] / 2.852337 = [0.900332, 1.099668]
    w = weights_after("dwa", HISTORY)
    assert w.tolist() == pytest.approx([0.900332, 1.099668], abs=1e-6)


def test_dwa_weights_change_only_at_epoch_boundaries():
    w = after_epochs("dwa", HISTORY)
    model = ToyMTL()
    seen = [w.backward(model.losses(*toy_batch(s)), model) for s in range(3)]
    assert all(torch.equal(seen[0], s) for s in seen)


def test_dwa_eq5_huge_temperature_tends_to_equal_weighting():
    w = weights_after("dwa", [[1.0, 5.0], [0.1, 6.0]], T=1e9)
    assert w.tolist() == pytest.approx([1.0, 1.0], abs=1e-8)


# --- ATDWA, eqs. (1)-(5) --------------------------------------------------------------------
def test_atdwa_eq2_task_uncertainty_hand_computed():
    # population std of (1, .5) and (2, 1.8): [0.25, 0.1]; sample std (ddof 1): x sqrt(2)
    assert task_uncertainty(HISTORY).tolist() == pytest.approx([0.25, 0.1])
    assert task_uncertainty(HISTORY, ddof=1).tolist() == pytest.approx([0.353553, 0.141421], abs=1e-6)


def test_atdwa_eq3_eq4_temperature_hand_computed():
    # u_bar = (0.25 + 0.1) / 2 = 0.175 (eq. 3); T = 2 (1 + 0.8 * 0.175) = 2.28 (eq. 4)
    assert adaptive_temperature(torch.tensor([0.25, 0.1]), T0=2.0, gamma=0.8) == pytest.approx(2.28)


def test_atdwa_eqs1_to_5_temperature_and_weights_hand_computed():
    # u = [std(1, .5), std(2, 1.8)] = [0.25, 0.1] (ddof 0); u_bar = 0.175
    # T = 2 (1 + 0.8 * 0.175) = 2.28; r / T = [0.219298, 0.394737]
    # w_0 = 2 / (1 + exp(0.175439)) = 2 / 2.191770 = 0.912505, w_1 = 1.087495
    w = after_epochs("atdwa", HISTORY)
    state = w.extra_state()
    assert state["temperature"] == pytest.approx(2.28)
    assert state["uncertainty"] == pytest.approx(0.175)
    assert state["task_uncertainty"] == pytest.approx([0.25, 0.1])
    assert w.current_weights().tolist() == pytest.approx([0.912505, 1.087495], abs=1e-6)


def test_atdwa_eq2_window_uses_most_recent_recorded_epochs():
    # last three epochs of task 0: 0.5, 0.4, 0.1 -> mean 1/3, std = sqrt(((1/6)^2+(1/15)^2+(7/30)^2)/3)
    hist = [[9.0, 1.0], [0.5, 1.0], [0.4, 1.0], [0.1, 1.0]]
    w = after_epochs("atdwa", hist)
    u0 = math.sqrt(((1 / 6) ** 2 + (1 / 15) ** 2 + (7 / 30) ** 2) / 3)
    assert w.extra_state()["task_uncertainty"] == pytest.approx([u0, 0.0])
    assert w.extra_state()["temperature"] == pytest.approx(2 * (1 + 0.8 * u0 / 2))


def test_atdwa_eq2_ddof1_with_a_single_epoch_keeps_base_temperature():
    w = get_weighter("atdwa", 2, ddof=1)
    w.epoch_end([1.0, 2.0])
    assert w.extra_state()["temperature"] == pytest.approx(2.0)


def test_atdwa_eq4_with_gamma_zero_equals_dwa():
    hist = [[1.0, 2.0], [0.7, 1.9], [0.6, 1.2], [0.2, 1.1]]
    at, dwa = get_weighter("atdwa", 2, gamma=0.0), get_weighter("dwa", 2)
    for losses in hist:
        at.epoch_end(losses)
        dwa.epoch_end(losses)
        assert torch.allclose(at.current_weights(), dwa.current_weights())


def test_atdwa_eq4_volatility_flattens_weights():
    calm = weights_after("atdwa", [[1.0, 1.0], [0.5, 1.0]], gamma=0.0)
    volatile = weights_after("atdwa", [[1.0, 1.0], [0.5, 1.0]], gamma=10.0)
    assert abs(volatile[0] - volatile[1]) < abs(calm[0] - calm[1])


# --- GradNorm, Chen et al. eqs. (1)-(2) ------------------------------------------------------
def test_gradnorm_eq1_target_hand_computed():
    # Lt = [.5, .8] / [1, 1]; r = Lt / .65 = [0.769231, 1.230769]; mean G = 1.5
    # target = 1.5 * r ** 1.5 = [1.5 * 0.674660, 1.5 * 1.365416] = [1.011990, 2.048124]
    t = gradnorm_target(torch.tensor([2.0, 1.0]), torch.tensor([0.5, 0.8]), torch.ones(2), 1.5)
    assert t.tolist() == pytest.approx([1.011990, 2.048124], abs=1e-5)


def test_gradnorm_renormalization_hand_computed():
    assert renormalize(torch.tensor([0.5, 1.5, 2.0])).tolist() == pytest.approx([0.375, 1.125, 1.5])  # 3 w / 4
    w = renormalize(torch.tensor([-1.0, 1.0]))
    assert (w > 0).all() and float(w.sum()) == pytest.approx(2.0)


class ClosedFormToy(nn.Module):
    """A two-task model whose losses are closed-form functions of a shared parameter ``theta``,
    so that every gradient can be worked out by hand."""

    def shared_parameters(self):
        return [self.theta]

    def last_shared_parameters(self):
        return [self.theta]


class LinearToy(ClosedFormToy):
    """L_k = a_k * theta with a scalar shared theta = 1, so grad_theta L_k = a_k exactly."""

    def __init__(self, a: list[float]) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.ones(1))
        self.a = torch.tensor(a)

    def losses(self) -> torch.Tensor:
        return self.a * self.theta


def test_gradnorm_eq1_eq2_one_step_on_two_task_toy():
    # a = [2, 1]: L = L(0) = [2, 1] so r = [1, 1]; G = [2, 1]; target = mean(G) = 1.5 (eq. 1)
    # L_grad = |2 - 1.5| + |1 - 1.5| = 1 (eq. 2); dL_grad/dw = [sign(.5) * 2, sign(-.5) * 1]
    # = [2, -1]; Adam's first step moves by -lr*sign
    # -> w = [0.9, 1.1] (sum already 2); the network sees the grad of 1*L0 + 1*L1 -> dtheta = 3.
    model, gn = LinearToy([2.0, 1.0]), get_weighter("gradnorm", 2, lr=0.1)
    applied = gn.backward(model.losses(), model)
    assert applied.tolist() == [1.0, 1.0]
    assert model.theta.grad.item() == pytest.approx(3.0)
    assert gn.w.detach().tolist() == pytest.approx([0.9, 1.1], abs=1e-6)
    assert gn.extra_state()["grad_norms"] == pytest.approx([2.0, 1.0])


# --- UW, Kendall et al. eq. (7) ---------------------------------------------------------------
def test_uw_eq7_total_hand_computed():
    # 0.5*1*2 + 0.5*0 + 0.5*0.5*0.5 + 0.5*ln 2 = 1 + 0.125 + 0.346574 = 1.471574
    total = uw_total(torch.tensor([2.0, 0.5]), torch.tensor([0.0, math.log(2.0)]))
    assert total.item() == pytest.approx(1.471574, abs=1e-6)


def test_uw_weights_start_at_one_half():
    # s_k = 0 at init: 0.5 exp(0) = 0.5 per task, sum K/2 (UW is not on the scale of EW)
    losses = torch.tensor([2.0, 0.5, 1.0], requires_grad=True)
    assert get_weighter("uw", 3).backward(losses, ToyMTL()).tolist() == [0.5] * 3


def test_uw_eq7_gradients_hand_computed():
    """The reported weights are 0.5 exp(-s_k), the factors of L_k in eq. (7)."""
    uw = get_weighter("uw", 2)
    with torch.no_grad():
        uw.log_vars.copy_(torch.tensor([0.0, math.log(2.0)]))
    losses = torch.tensor([2.0, 0.5], requires_grad=True)
    w = uw.backward(losses, ToyMTL())
    assert w.tolist() == pytest.approx([0.5, 0.25])
    # d/ds_k = -0.5 exp(-s_k) L_k + 0.5 = [-0.5, 0.375]
    assert uw.log_vars.grad.tolist() == pytest.approx([-0.5, 0.375])
    assert losses.grad.tolist() == pytest.approx([0.5, 0.25])


# --- DB-MTL, Lin et al. Algorithm 1 and eqs. (1)-(2) -----------------------------------------
class ExpToy(ClosedFormToy):
    """L_k = exp(c_k . theta + psi_k): grad_theta log L_k = c_k and grad_psi_k log L_k = 1."""

    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(2))
        self.psi = nn.Parameter(torch.zeros(2))
        self.c = torch.tensor([[3.0, 4.0], [1.0, 0.0]])

    def losses(self) -> torch.Tensor:
        return torch.exp(self.c @ self.theta + self.psi)


def test_dbmtl_eq2_balance_gradients_hand_computed():
    # norms [0.5, 0.1]; alpha 0.5; g = 0.5 ([.6, .8] + [1, 0]) = [0.8, 0.4]; scales [1, 5]
    g, scales = balance_gradients(torch.tensor([[0.3, 0.4], [0.1, 0.0]]))
    assert g.tolist() == pytest.approx([0.8, 0.4])
    assert scales.tolist() == pytest.approx([1.0, 5.0])


def test_dbmtl_eq1_eq2_two_steps_on_closed_form_toy():
    """Algorithm 1 steps 6 (log-loss gradients), 7 (eq. 1, EMA), 9 (eq. 2) and 12."""
    model, db = ExpToy(), get_weighter("dbmtl", 2)
    w = db.backward(model.losses(), model)
    # step 1: ema = 0.1 c -> shared grad [0.8, 0.4]; each psi_k gets d log L_k / d psi_k = 1
    assert model.theta.grad.tolist() == pytest.approx([0.8, 0.4], rel=1e-6)
    assert model.psi.grad.tolist() == pytest.approx([1.0, 1.0], rel=1e-6)
    assert w.tolist() == pytest.approx([1.0, 5.0], rel=1e-6)
    model.zero_grad()
    db.backward(model.losses(), model)
    # step 2: ema = 0.9*0.1c + 0.1c = 0.19c -> alpha = 0.95 -> 0.95 ([.6, .8] + [1, 0])
    assert model.theta.grad.tolist() == pytest.approx([1.52, 0.76], rel=1e-6)


def test_dbmtl_eq2_largest_norm_task_gets_scale_one():
    """alpha = max_k ||g_k||, so the largest-norm task's scale is 1 (up to eps) and the others > 1."""
    run = ToyRun(make_weighter("dbmtl")).run()
    for scales in run.weights:
        assert scales.min().item() == pytest.approx(1.0, rel=1e-5) and (scales >= 1 - 1e-6).all()


def test_dbmtl_first_step_on_the_toy_network():
    """Algorithm 1 on a real network: after one step the task heads hold the gradient of
    sum_k log(L_k + eps) (step 12) and the encoder (1 - beta) sum_k s_k grad log(L_k + eps), the
    EMA of eq. (1) from zero scaled by the returned s_k (eq. 2)."""
    torch.manual_seed(0)
    model, db = ToyMTL(), get_weighter("dbmtl", 2, beta=0.9)
    reference = copy.deepcopy(model)
    scales = db.backward(model.losses(*toy_batch(0)), model)
    logs = torch.log(reference.losses(*toy_batch(0)) + DBMTL_EPS)
    shared = list(reference.encoder.parameters())
    heads = list(reference.seg_head.parameters()) + list(reference.cls_head.parameters())
    per_task = [torch.autograd.grad(logs[k], shared, retain_graph=True) for k in range(2)]
    expected_shared = [0.1 * (scales[0] * g0 + scales[1] * g1) for g0, g1 in zip(*per_task)]
    expected_heads = torch.autograd.grad(logs.sum(), heads)
    got_shared = [p.grad for p in model.encoder.parameters()]
    got_heads = [p.grad for p in list(model.seg_head.parameters()) + list(model.cls_head.parameters())]
    for got, want in zip(got_shared + got_heads, expected_shared + list(expected_heads)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-8)


def test_dbmtl_update_ignores_the_loss_scale():
    """Step 6 differentiates log(c L_k) = log c + log L_k: scaling a task's loss changes neither
    the weights nor any gradient (the loss-scale balancing)."""
    torch.manual_seed(0)
    model = ToyMTL()
    grads = []
    for factor in (torch.ones(2), torch.tensor([1.0, 7.0])):
        db = get_weighter("dbmtl", 2)
        for step in range(2):
            model.zero_grad()
            weights = db.backward(model.losses(*toy_batch(step)) * factor, model)
        grads.append([weights] + [p.grad.clone() for p in model.parameters()])
    for plain, scaled in zip(*grads):
        torch.testing.assert_close(scaled, plain, rtol=1e-5, atol=1e-8)


# --- DMF, Golnari & Diba eqs. (3)-(10) --------------------------------------------------------
def test_dmf_eq10_symlog_hand_computed():
    assert symlog(torch.tensor([-1.0, 0.0, math.e - 1])).tolist() == pytest.approx([-math.log(2), 0.0, 1.0])


def test_dmf_eq9_minmax_hand_computed():
    # (h - 1) / (3 - 1 + 1e-7); a positive affine change of h gives the same values
    h = torch.tensor([1.0, 2.0, 3.0])
    assert minmax(h).tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-6)
    assert minmax(5.0 * h - 4.0).tolist() == pytest.approx(minmax(h).tolist(), abs=1e-6)


def test_dmf_eq5_median_and_mad_hand_computed():
    assert median(torch.tensor([4.0, 1.0, 3.0, 2.0])).item() == 2.5  # not torch.median's 2
    # median 2.5; |h - 2.5| = [1.5, .5, .5, 1.5]; their median = 1
    assert mad(torch.tensor([1.0, 2.0, 3.0, 4.0])).item() == pytest.approx(1.0)


def test_dmf_eq4_eq6_normalization_to_k_hand_computed():
    # the paper normalizes to 1; here K times that: 2 * [1, 3] / 4; all zero -> equal weights
    assert normalize_to_k(torch.tensor([1.0, 3.0])).tolist() == [0.5, 1.5]
    assert normalize_to_k(torch.zeros(2)).tolist() == [1.0, 1.0]


# losses exp(v) - 1 so that symlog gives v back; v0 = [0, 1, 2, 3], v1 = [0, 2, 2.5, 3]
# scaled: task 0 [0, 1/3, 2/3, 1], task 1 [0, 2/3, 5/6, 1]
# Var: 20/144 and 20.75/144 -> w_var = 2 [20, 20.75] / 40.75 = [0.981595, 1.018405]
# MAD: 1/3 and 1/6 -> w_mad = 2 [3, 6] / 9 = [2/3, 4/3]
STEPS = [[math.expm1(a), math.expm1(b)] for a, b in zip([0, 1, 2, 3], [0, 2, 2.5, 3])]


@pytest.mark.parametrize("name,expected", [("dmf_var", [0.981595, 1.018405]),  # eqs. 3-4
                                           ("dmf_mad", [2 / 3, 4 / 3]),  # eqs. 5-6
                                           ("dmf_bayes", [2 / 3, 4 / 3])])  # eqs. 7-8
def test_dmf_eqs3_to_10_rules_hand_computed(name, expected):
    """From the raw step losses: eq. (10), eq. (9), then each method's rule after the warm-up."""
    w = get_weighter(name, 2, history=4, warmup=4)
    for i, losses in enumerate(STEPS):
        out = w.update(torch.tensor(losses))
        if i < 3:
            assert out.tolist() == [1.0, 1.0]  # warm-up: equal weights
    assert out.tolist() == pytest.approx(expected, abs=1e-5)


def test_dmf_bayes_eq7_eq8_posterior_becomes_prior():
    # step 1: prior [.5, .5] x lik [3, 6] -> [1/3, 2/3]; step 2: [1/3, 2/3] x [3, 6] -> [0.2, 0.8]
    assert posterior(torch.tensor([0.5, 0.5]), torch.tensor([3.0, 6.0])).tolist() == pytest.approx([1 / 3, 2 / 3])
    w = get_weighter("dmf_bayes", 2, history=4, warmup=4)
    scaled = torch.tensor([[0, 1 / 3, 2 / 3, 1], [0, 2 / 3, 5 / 6, 1]], dtype=torch.float64)
    assert w.rule(scaled).tolist() == pytest.approx([2 / 3, 4 / 3], abs=1e-5)
    assert w.rule(scaled).tolist() == pytest.approx([0.4, 1.6], abs=1e-5)


def test_dmf_history_is_a_fifo_window():
    w = get_weighter("dmf_var", 2, history=4, warmup=2)
    for losses in STEPS + STEPS[:2]:
        w.update(torch.tensor(losses))
    assert len(w.memory) == 4 and w.memory[0] == pytest.approx(STEPS[2])
