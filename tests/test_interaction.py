"""The decoder-interaction network (busmtl.models.interaction) and its blocks: shapes, the
paper's bounds (UPA weights, TIM's modulation), module switches and parameter counts, gradients,
parameter groups and every weighter on it."""

from __future__ import annotations

import pytest
import torch

from busmtl import losses as L
from busmtl.models import InteractionNet, build
from busmtl.models.blocks import HMSF, AttentionGate, TaskInteraction, UncertaintyProxyAttention
from busmtl.models.interaction import ABLATION_VARIANTS, MODULES, PROJECT_CHOICES, modules_for

SMALL = {"encoder": "resnet18", "decoder_channels": (32, 16, 16, 8, 8)}


def switches(modules) -> dict[str, bool]:
    return {m: m in modules for m in MODULES}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def full() -> InteractionNet:
    torch.manual_seed(0)
    return InteractionNet(**SMALL)


# -- shapes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(32, 32), (64, 64), (64, 96)])
def test_output_shapes_for_several_sizes(full, size):
    seg, cls = full.eval()(torch.zeros(2, 3, *size))
    assert seg.shape == (2, 1, *size) and cls.shape == (2, 2)


@pytest.mark.parametrize("encoder", ["resnet34", "mobilenet_v2"])
def test_output_shapes_for_other_encoders_classes_and_channels(encoder):
    model = InteractionNet(encoder=encoder, decoder_channels=(16, 8, 8, 8, 8), num_classes=3,
                           in_channels=1).eval()
    seg, cls = model(torch.zeros(2, 1, 64, 64))
    assert seg.shape == (2, 1, 64, 64) and cls.shape == (2, 3)


def test_sizes_not_divisible_by_32_are_a_clear_error(full):
    with pytest.raises(ValueError, match="divisible by 32.*48"):
        full(torch.zeros(2, 3, 48, 64))


# -- the paper's bounds -----------------------------------------------------------------------
def test_upa_weights_sum_to_one_per_image_and_level(full):
    torch.manual_seed(1)
    full.train()(torch.randn(4, 3, 64, 64))
    assert len(full.last_upa_weights) == 4
    for w in full.last_upa_weights:  # eq. 7: a softmax over (w_seg, w_clf)
        assert w.shape == (4, 2) and (w >= 0).all() and (w <= 1).all()
        assert torch.allclose(w.sum(dim=1), torch.ones(4))


def test_upa_interpolates_between_base_and_enhanced_features():
    torch.manual_seed(0)
    upa = UncertaintyProxyAttention()
    d, d_enh = torch.randn(3, 4, 5, 5), torch.randn(3, 4, 5, 5)
    f, f_enh = torch.randn(3, 8), torch.randn(3, 8)
    d_final, f_final, w = upa(d, d_enh, f, f_enh)
    # eq. 8: D + w_seg (D_enh - D), f + w_clf (f_enh - f)
    assert torch.allclose(d_final, d + w[:, 0, None, None, None] * (d_enh - d))
    assert torch.allclose(f_final, f + w[:, 1, None] * (f_enh - f))
    u = upa.uncertainties(d_enh, f_enh)  # normalised by the batch mean: mean 1 per task
    assert torch.allclose(u.mean(dim=0), torch.ones(2), atol=1e-6)


def test_upa_uncertainty_is_the_activation_variance_by_hand():
    d_enh = torch.tensor([[[[0.0, 2.0]], [[1.0, 1.0]]]])  # channel variances 1 and 0
    f_enh = torch.tensor([[1.0, 3.0]])  # variance 1
    raw_seg = d_enh.flatten(2).var(dim=2, correction=0).mean(dim=1)
    assert raw_seg.item() == pytest.approx(0.5)
    # one image: u / (u + eps) = 1 for both tasks
    assert UncertaintyProxyAttention.uncertainties(d_enh, f_enh)[0].tolist() == pytest.approx([1.0, 1.0])


def test_tim_modulation_stays_in_one_to_one_point_seven():
    torch.manual_seed(0)
    tim = TaskInteraction(seg_channels=6, cls_channels=8, tau=0.7)
    with torch.no_grad():
        for scale in (0.01, 1.0, 100.0):  # extreme inputs saturate the sigmoids
            mu = tim.modulation(scale * torch.randn(5, 6, 4, 4), scale * torch.randn(5, 8))
            assert mu.shape == (5, 6, 1, 1)
            assert (mu >= 1.0).all() and (mu <= 1.7).all()
        # both gates saturated at 1: mu reaches the upper bound 1 + tau
        tim.psi.bias.fill_(50.0)
        tim.seg_gate.bias.fill_(50.0)
        mu = tim.modulation(torch.zeros(1, 6, 2, 2), torch.zeros(1, 8))
        assert torch.allclose(mu, torch.full_like(mu, 1.7))


def test_tim_adds_gated_segmentation_context_to_the_classification_feature():
    torch.manual_seed(0)
    tim = TaskInteraction(seg_channels=4, cls_channels=8).eval()
    d, f = torch.randn(2, 4, 3, 3), torch.randn(2, 8)
    d_enh, f_enh = tim(d, f)
    context = tim.phi(tim.seg_attention(d).mean(dim=(2, 3)))
    assert torch.allclose(f_enh, f + torch.sigmoid(tim.clf_gate(context)) * context)  # eq. 2
    assert torch.allclose(d_enh, d * tim.modulation(d, f))  # eq. 5


def test_hmsf_scale_weights_are_a_softmax_and_the_block_keeps_the_shape():
    torch.manual_seed(0)
    block = HMSF(16)
    x = torch.randn(2, 16, 8, 8)
    alpha = block.scale_weights(x)
    assert alpha.shape == (2, 3) and torch.allclose(alpha.sum(dim=1), torch.ones(2))
    assert block(x).shape == x.shape
    assert [b.depthwise.dilation for b in block.branches] == [(1, 1), (2, 2), (4, 4)]


def test_attention_gate_scales_the_skip_by_coefficients_in_zero_one():
    torch.manual_seed(0)
    gate = AttentionGate(skip_channels=6, gate_channels=4)
    x, g = torch.randn(2, 6, 5, 5), torch.randn(2, 4, 5, 5)
    psi = gate.coefficients(x, g)
    assert psi.shape == (2, 1, 5, 5) and (psi > 0).all() and (psi < 1).all()
    assert torch.allclose(gate(x, g), x * psi)


# -- switches and parameter counts ------------------------------------------------------------
def test_switching_a_module_off_gives_the_baseline_count():
    """Counts are additive: every variant = the bare network + the modules it switches on."""
    counts = {v: n_params(InteractionNet(**SMALL, **switches(mods)))
              for v, mods in ABLATION_VARIANTS.items()}
    bare_model = InteractionNet(**SMALL, **switches(()))
    bare = n_params(bare_model)
    full = InteractionNet(**SMALL)
    size = {m: full.module_parameters(m) for m in MODULES}
    assert all(bare_model.module_parameters(m) == 0 for m in MODULES)
    assert all(size[m] > 0 for m in MODULES)
    for variant, mods in ABLATION_VARIANTS.items():
        assert counts[variant] == bare + sum(size[m] for m in mods), variant
    # switching one module off the full network gives the variant without it
    assert counts["full"] - size["hmsf"] == counts["tim_upa"]
    assert counts["tim_upa"] - size["upa"] == counts["tim"]
    assert counts["tim"] - size["tim"] == counts["baseline"]
    assert counts["hmsf"] - size["hmsf"] == counts["baseline"]


def test_switched_off_modules_are_not_built():
    model = InteractionNet(**SMALL, **switches(modules_for("baseline")))
    assert model.tim is None and model.upa is None and model.hmsf is None
    assert all(level.gate is not None for level in model.decoder)
    assert model.modules_on == ("attention_gates",)
    seg, _cls = model.eval()(torch.zeros(2, 3, 32, 32))
    assert seg.shape == (2, 1, 32, 32) and model.last_upa_weights == []


def test_upa_without_tim_and_unknown_variants_are_clear_errors():
    with pytest.raises(ValueError, match="'upa' needs 'tim'"):
        InteractionNet(**SMALL, tim=False)
    with pytest.raises(ValueError, match="unknown ablation variant 'plain'.*tim_upa"):
        modules_for("plain")
    with pytest.raises(ValueError, match="decoder_channels must be 5"):
        InteractionNet(encoder="resnet18", decoder_channels=(16, 8, 8, 8))


# -- gradients and parameter groups -----------------------------------------------------------
def test_a_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    model = InteractionNet(**SMALL).train()
    image = torch.randn(4, 3, 64, 64)
    mask = (torch.rand(4, 1, 64, 64) > 0.7).float()
    seg, cls = model(image)
    losses = L.task_losses(seg, cls, mask, torch.tensor([0, 1, 0, 1]))
    losses.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_parameter_groups_partition_the_model(full):
    shared = {id(p) for p in full.shared_parameters()}
    last = {id(p) for p in full.last_shared_parameters()}
    specific = {id(p) for p in full.task_specific_parameters()}
    assert last <= shared and len(last) == 1
    assert not shared & specific and shared | specific == {id(p) for p in full.parameters()}
    assert {id(p) for p in full.hmsf.parameters()} <= shared
    assert full.last_shared_parameters()[0] is full.hmsf[-1].fuse.weight


def test_without_hmsf_the_last_shared_layer_is_the_encoders():
    model = InteractionNet(**SMALL, hmsf=False)
    assert model.last_shared_parameters()[0] is model.encoder.layer4[-1].conv2.weight
    assert {id(p) for p in model.shared_parameters()} == {id(p) for p in model.encoder.parameters()}


# one weighter of each kind: plain weighted sum, last shared layer, all shared parameters,
# learnable network parameters
@pytest.mark.parametrize("method", ["ew", "gradnorm", "dbmtl", "uw"])
def test_every_kind_of_weighter_steps_the_network(method):
    from busmtl.weighting import get_weighter

    torch.manual_seed(0)
    model = InteractionNet(**SMALL).train()
    weighter = get_weighter(method, 2)
    seg, cls = model(torch.randn(2, 3, 32, 32))
    losses = L.task_losses(seg, cls, (torch.rand(2, 1, 32, 32) > 0.5).float(), torch.tensor([0, 1]))
    weights = weighter.backward(losses, model)
    assert weights.shape == (2,) and torch.isfinite(weights).all()
    assert all(p.grad is not None for p in model.shared_parameters())


def test_imagenet_weights_from_a_local_file(tmp_path):
    donor = InteractionNet(**SMALL)
    path = tmp_path / "encoder.pt"
    torch.save(donor.encoder.state_dict(), path)
    model = InteractionNet(**SMALL, encoder_weights=str(path))
    assert torch.equal(model.encoder.conv1.weight, donor.encoder.conv1.weight)


def test_build_by_name_and_project_choices():
    assert isinstance(build("interaction", **SMALL), InteractionNet)
    with pytest.raises(ValueError, match="unknown model 'unet'.*ssc_resnet, interaction"):
        build("unet")
    assert PROJECT_CHOICES and all(isinstance(v, str) and v for v in PROJECT_CHOICES.values())
