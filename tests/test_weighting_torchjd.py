"""Hand-computed values for the weighters built on torchjd: the gradient-balancing aggregators
(MGDA and PCGrad against their two-task closed forms on hand-made gradients) and the loss-only
scalarizers (RLW, GLS, IMTL-L, FAMO, STCH), and the project's DWA and UW against torchjd's on
the same losses. The properties every weighter has are in test_weighting_properties.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from busmtl.weighting import get_weighter
from busmtl.weighting.jacobian import projection_weights


class LinearShared(nn.Module):
    """``L_k = g_k . z`` with ``z = theta`` (the shared representation, through an identity
    layer): the Jacobian with respect to the shared parameter ``theta`` and to ``z`` both have
    the hand-made rows ``g_k``; a task-specific scalar ``b`` adds ``b`` to every loss."""

    def __init__(self, gradients: list[list[float]]) -> None:
        super().__init__()
        self.g = torch.tensor(gradients)
        self.theta = nn.Parameter(torch.zeros(self.g.shape[1]))
        self.b = nn.Parameter(torch.zeros(()))
        self._z: list[torch.Tensor] = []

    def shared_parameters(self):
        return [self.theta]

    def last_shared_parameters(self):
        return [self.theta]

    def shared_representation(self) -> list[torch.Tensor]:
        return self._z

    def losses(self) -> torch.Tensor:
        z = self.theta * 1.0
        self._z = [z]
        return self.g @ z + self.b


def balance(name: str, gradients: list[list[float]], jacobian: str = "parameters", **hp):
    model = LinearShared(gradients)
    weights = get_weighter(name, len(gradients), jacobian=jacobian, **hp).backward(
        model.losses(), model)
    return weights, model


# --- MGDA: min-norm point of the segment [g1, g2] (Sener & Koltun, eq. 3, two tasks) --------
@pytest.mark.parametrize("jacobian", ["parameters", "representation"])
@pytest.mark.parametrize("g1,g2", [([1.0, 0.0], [-0.5, 1.0]), ([2.0, 1.0], [0.0, 3.0]),
                                   ([1.0, 0.0], [3.0, 0.5])])
def test_mgda_is_the_closed_form_min_norm_point_for_two_tasks(g1, g2, jacobian):
    a, b = torch.tensor(g1), torch.tensor(g2)
    alpha = float(((b - a) @ b / (a - b).pow(2).sum()).clamp(0, 1))
    weights, model = balance("mgda", [g1, g2], jacobian, epsilon=1e-9, max_iters=1000)
    assert_close(weights, torch.tensor([alpha, 1 - alpha]), rtol=0, atol=1e-5)
    assert_close(model.theta.grad, alpha * a + (1 - alpha) * b, rtol=0, atol=1e-5)


def test_mgda_first_case_by_hand():
    # g1 = (1, 0), g2 = (-0.5, 1): (g2 - g1).g2 = 1.75, |g1 - g2|^2 = 3.25, alpha = 7/13
    weights, _ = balance("mgda", [[1.0, 0.0], [-0.5, 1.0]], epsilon=1e-9, max_iters=1000)
    assert weights.tolist() == pytest.approx([7 / 13, 6 / 13], abs=1e-5)


# --- PCGrad: conflicting gradients projected on each other's normal plane (Yu et al., Alg. 1)
def test_pcgrad_projects_conflicting_gradients_by_hand():
    # g1 = (1, 0), g2 = (-1, 1), g1.g2 = -1 < 0:
    # g1' = g1 - (-1 / |g2|^2) g2 = (0.5, 0.5); g2' = g2 - (-1 / |g1|^2) g1 = (0, 1)
    # d = (0.5, 1.5) = 2 g1 + 1.5 g2
    weights, model = balance("pcgrad", [[1.0, 0.0], [-1.0, 1.0]])
    assert weights.tolist() == pytest.approx([2.0, 1.5], abs=1e-6)
    assert model.theta.grad.tolist() == pytest.approx([0.5, 1.5], abs=1e-6)
    g1, g2 = model.g
    for own, other in ((g1, g2), (g2, g1)):
        projected = own - (own @ other) / (other @ other) * other
        assert float(projected @ other) == pytest.approx(0.0, abs=1e-7)  # on the normal plane


@pytest.mark.parametrize("jacobian", ["parameters", "representation"])
def test_pcgrad_leaves_agreeing_gradients_alone(jacobian):
    # g1.g2 = 1 > 0: no projection, d = g1 + g2
    weights, model = balance("pcgrad", [[1.0, 0.0], [1.0, 1.0]], jacobian)
    assert weights.tolist() == [1.0, 1.0] and model.theta.grad.tolist() == [2.0, 1.0]


def test_task_specific_parameters_get_the_plain_sum():
    """Only the shared part is balanced: ``b`` (in every loss) gets dL/db summed, K = 2."""
    _, model = balance("mgda", [[1.0, 0.0], [-0.5, 1.0]])
    assert model.b.grad.item() == 2.0


def test_effective_weights_of_a_direction_in_the_span():
    # J = [[1, 0, 0], [0, 1, 0]], d = (2, -1, 0) = 2 g1 - g2; a component outside the span is dropped
    J = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert projection_weights(J, torch.tensor([2.0, -1.0, 0.0])).tolist() == [2.0, -1.0]
    assert projection_weights(J, torch.tensor([2.0, -1.0, 5.0])).tolist() == [2.0, -1.0]


def test_config_direction_has_equal_cosines_and_is_rebuilt_by_its_weights():
    # ConFIG (eq. 2): unit gradients (1, 0), (0, 1) -> v = (1, 1)/sqrt 2, length g1.v + g2.v
    weights, model = balance("config", [[2.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    assert_close(model.theta.grad, (2 * v[0] + v[1]) * v)
    assert_close(weights @ model.g, model.theta.grad)


def test_a_missing_solver_is_a_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cvxpy" else real(name, *a))
    with pytest.raises(ImportError, match=r'nash_mtl needs cvxpy.*torchjd\[full\]'):
        get_weighter("nash_mtl", 2)


def test_bad_jacobian_setting_is_named():
    with pytest.raises(ValueError, match="jacobian must be one of parameters, representation"):
        get_weighter("upgrad", 2, jacobian="layer")


# --- loss-only weighters: w_k = dS/dL_k ---------------------------------------------------
def weights_of(weighter, losses: list[float]) -> torch.Tensor:
    values = torch.tensor(losses, requires_grad=True)
    model = LinearShared([[1.0]])
    return weighter.backward(values * (1 + 0 * model.losses().sum()), model)


def test_rlw_weights_are_the_softmax_of_a_normal_draw():
    # Lin et al., Alg. 2: w = softmax(z), z ~ N(0, I); same seed, same draw
    torch.manual_seed(5)
    expected = torch.softmax(torch.randn(2), dim=0)
    torch.manual_seed(5)
    weights = weights_of(get_weighter("rlw", 2), [3.0, 0.2])
    assert_close(weights, expected)
    assert weights.sum().item() == pytest.approx(1.0)


def test_gls_weights_hand_computed():
    # L = [4, 1]: (4 * 1)^(1/2) = 2, w_k = 2 / (2 L_k) = [0.25, 1.0]
    assert weights_of(get_weighter("gls", 2), [4.0, 1.0]).tolist() == pytest.approx([0.25, 1.0])


def test_imtl_l_weights_are_exp_of_the_scales():
    # S = sum_k (e^(s_k) L_k - s_k); with s = [ln 2, 0]: w = [2, 1], dS/ds = [2 * 3 - 1, 1 * 5 - 1]
    w = get_weighter("imtl_l", 2)
    assert weights_of(w, [3.0, 5.0]).tolist() == [1.0, 1.0]          # s = 0 at the start
    with torch.no_grad():
        w.network_parameters()[0].copy_(torch.tensor([math.log(2.0), 0.0]))
    w.network_parameters()[0].grad = None
    assert weights_of(w, [3.0, 5.0]).tolist() == pytest.approx([2.0, 1.0])
    assert w.network_parameters()[0].grad.tolist() == pytest.approx([5.0, 4.0])


def test_famo_weights_and_logit_update_hand_computed():
    w = get_weighter("famo", 2)
    # step 1, z = [0.5, 0.5], L = [1, 3]: c = 1 / (0.5 + 0.5 / 3) = 1.5, w = c z / L = [0.75, 0.25]
    assert weights_of(w, [1.0, 3.0]).tolist() == pytest.approx([0.75, 0.25], abs=1e-6)
    # step 2, L = [0.5, 3]: delta = [ln 2, 0]; grad_xi = z (delta - z.delta) = [0.1733, -0.1733];
    # Adam's first step moves xi by -lr sign(grad) = [-0.025, 0.025]
    weights = weights_of(w, [0.5, 3.0])
    assert w.logits().tolist() == pytest.approx([-0.025, 0.025], abs=1e-6)
    # z = softmax([-0.025, 0.025]) = [0.487503, 0.512497]; c = 1 / (0.975005 + 0.170832)
    assert weights.tolist() == pytest.approx([0.850910, 0.149090], abs=1e-5)


def test_stch_warm_up_then_smooth_max_hand_computed():
    w = get_weighter("stch", 2, mu=1.0, warmup=1)
    # warm-up: S = sum_k log L_k, w = 1 / L = [0.5, 2]
    assert weights_of(w, [2.0, 0.5]).tolist() == pytest.approx([0.5, 2.0], rel=1e-6)
    w.epoch_end([2.0, 1.0])                                # nadir point z = [2, 1]
    # L = [1, 2]: f = log(L / z) = [-ln 2, ln 2], softmax(f) = [0.2, 0.8],
    # w = K softmax(f)_k / L_k = 2 [0.2, 0.4] = [0.4, 0.8]
    assert weights_of(w, [1.0, 2.0]).tolist() == pytest.approx([0.4, 0.8], rel=1e-5)


# --- the project's DWA and UW against torchjd's ---------------------------------------------
def test_dwa_matches_torchjd_dwa_on_the_same_history():
    """Same weights; conventions: the project divides by ``L_k(e-2) + 1e-8`` and receives the
    trainer's batch-size-weighted epoch means, torchjd divides by ``L_k(e-2)`` and averages the
    batches it saw with equal weight (here one batch per epoch, so the means agree)."""
    from torchjd.scalarization import DWA as TorchjdDWA

    history = [[1.0, 2.0], [0.5, 1.8], [0.45, 1.0]]
    ours, theirs = get_weighter("dwa", 2), TorchjdDWA(temperature=2.0)
    for epoch in history:
        ours.epoch_end(epoch)
        theirs(torch.tensor(epoch))
        theirs.step()
    values = torch.tensor([0.7, 0.9], requires_grad=True)
    (theirs_w,) = torch.autograd.grad(theirs(values), values)
    assert_close(ours.current_weights().float(), theirs_w, rtol=0, atol=1e-6)


def test_uw_matches_torchjd_uw():
    """Same objective ``sum_k (0.5 e^(-s_k) L_k + 0.5 s_k)`` and initialisation ``s = 0``; the
    project reports ``0.5 e^(-s_k)`` as the weights."""
    from torchjd.scalarization import UW as TorchjdUW

    ours, theirs = get_weighter("uw", 2), TorchjdUW(2)
    with torch.no_grad():
        ours.log_vars.copy_(torch.tensor([0.3, -0.2]))
        theirs.log_var.copy_(torch.tensor([0.3, -0.2]))
    values = torch.tensor([1.5, 0.7], requires_grad=True)
    ours_w = weights_of(ours, [1.5, 0.7])
    (theirs_w,) = torch.autograd.grad(theirs(values), values)
    assert_close(ours_w, theirs_w)
    assert_close(ours.log_vars.grad, torch.autograd.grad(theirs(values), theirs.log_var)[0])


# --------------------------------------------------------------------------------------------
# on the real network: the U-Net's skip features are nested (each encoder stage is computed from
# the one before), so they are a shared representation only if the heads read them through a
# cut of the graph; otherwise a chain rule over them counts the deeper paths several times
# --------------------------------------------------------------------------------------------
NETWORKS = {"ssc_resnet": ("ssc_resnet", {}), "interaction": ("interaction", {}),
            "interaction without HMSF": ("interaction", {"hmsf": False})}


@pytest.mark.parametrize("jacobian", ["parameters", "representation"])
@pytest.mark.parametrize("name", ["upgrad", "mgda"])
@pytest.mark.parametrize("network", list(NETWORKS))
def test_on_the_network_the_shared_gradient_is_that_of_the_weighted_sum(name, jacobian,
                                                                         network):
    from busmtl.models import model_class
    from busmtl.training.step import Batch, network_losses, train_step

    torch.manual_seed(0)
    model_name, options = NETWORKS[network]
    model = model_class(model_name)(encoder="resnet18", decoder_channels=(16, 16, 16, 16, 16),
                                    **options)
    model.train()
    batch = Batch(torch.randn(4, 3, 32, 32), (torch.rand(4, 1, 32, 32) > 0.7).float(),
                  torch.tensor([0, 1, 0, 1]))
    cpu = torch.device("cpu")
    shared = list(model.shared_parameters())
    weighter = get_weighter(name, 2, jacobian=jacobian)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    torch.manual_seed(1)  # the same dropout masks in both forward passes
    _, weights = train_step(model, weighter, optimizer,
                            lambda: network_losses(model, batch, cpu, "fp32"))
    got = [p.grad.clone() for p in shared]
    torch.manual_seed(1)
    seg, cls = network_losses(model, batch, cpu, "fp32").terms
    expected = torch.autograd.grad(weights[0] * seg + weights[1] * cls, shared)
    for g, e in zip(got, expected):  # float32 sums in another order: judged on each tensor's scale
        assert_close(g, e, rtol=1e-4, atol=1e-4 * float(e.abs().max()) + 1e-8)
