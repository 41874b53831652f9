"""Named losses (busmtl.losses): hand-computed values, properties, LossSetup and the auxiliary
factor. The project's original losses keep their own tests in test_losses.py."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from busmtl import losses as L
from busmtl.losses.boundary import curvature_kernel
from busmtl.losses.cb_dice import class_weights


def _row(values, shape=None):
    t = torch.tensor(values, dtype=torch.float32)
    return t.reshape(shape or (1, 1, 1, -1))


HALF = _row([0.0, 0.0])  # logits 0: p = 0.5 on both pixels
Y10 = _row([1.0, 0.0])


# -- overlap losses, by hand ------------------------------------------------------------------
def test_iou_by_hand():
    # TP = 0.5, FP = 0.5, FN = 0.5: IoU = 0.5 / 1.5
    assert L.iou_loss(HALF, Y10).item() == pytest.approx(1 - 1 / 3, abs=1e-6)


def test_tversky_and_focal_tversky_by_hand():
    # TI = 0.5 / (0.5 + 0.3 * 0.5 + 0.7 * 0.5) = 0.5
    assert L.tversky_loss(HALF, Y10).item() == pytest.approx(0.5, abs=1e-6)
    assert L.focal_tversky_loss(HALF, Y10).item() == pytest.approx(0.5**0.75, abs=1e-6)


def test_tversky_penalises_false_negatives_more_than_false_positives():
    big = 30.0
    # one false positive: y = (1, 0), p = (1, 1): TI = 1 / (1 + 0.3)
    fp = L.tversky_loss(_row([big, big]), Y10).item()
    # one false negative: y = (1, 1), p = (1, 0): TI = 1 / (1 + 0.7)
    fn = L.tversky_loss(_row([big, -big]), _row([1.0, 1.0])).item()
    assert fp == pytest.approx(1 - 1 / 1.3, abs=1e-6)
    assert fn == pytest.approx(1 - 1 / 1.7, abs=1e-6)
    assert L.focal_tversky_loss(_row([big, -big]), _row([1.0, 1.0])).item() == pytest.approx(
        (1 - 1 / 1.7) ** 0.75, abs=1e-6)


@pytest.mark.parametrize("name", ["iou", "tversky", "focal_tversky", "cb_dice", "dice"])
def test_overlap_losses_vanish_on_a_perfect_prediction(name):
    mask = _row([1.0, 0.0, 1.0, 0.0])
    logits = (mask * 2 - 1) * 30.0
    assert L.SEG_LOSSES[name](logits, mask).item() < 1e-5
    assert L.SEG_LOSSES[name](-logits, mask).item() > 0.9


@pytest.mark.parametrize("name", ["iou", "tversky", "focal_tversky"])
def test_lesion_overlap_losses_are_zero_without_lesion(name):
    assert L.SEG_LOSSES[name](HALF, _row([0.0, 0.0])).item() == 0.0


# -- CB-Dice (DMF eqs. 21-25) -----------------------------------------------------------------
def test_cb_dice_class_weights_by_hand():
    # one lesion pixel of four: ratios (3/4, 1/4), inverses (4/3, 4): weights (1/4, 3/4) (eq. 22)
    w = class_weights(_row([1.0, 0.0, 0.0, 0.0]))
    assert w.tolist() == pytest.approx([0.25, 0.75], abs=1e-6)
    assert w.sum().item() == pytest.approx(1.0)


def test_cb_dice_by_hand():
    # p = 0.5 everywhere, y = (1, 0, 0, 0)
    # lesion: 2 TP / (sum p + sum y) = 2 * 0.5 / (2 + 1) = 1/3
    # background: 2 * 1.5 / (2 + 3) = 0.6
    # CB-Dice = 0.75 / 3 + 0.25 * 0.6 = 0.4 -> loss 0.6 (eqs. 23-25)
    logits, mask = _row([0.0] * 4), _row([1.0, 0.0, 0.0, 0.0])
    assert L.cb_dice_loss(logits, mask).item() == pytest.approx(0.6, abs=1e-5)


def test_cb_dice_with_balanced_classes_is_the_mean_dice_of_both_classes():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[..., :2] = 1.0  # half the pixels are lesion: equal weights 1/2
    p = torch.sigmoid(logits)
    dice_lesion = 2 * (p * mask).sum() / (p.sum() + mask.sum())
    dice_back = 2 * ((1 - p) * (1 - mask)).sum() / ((1 - p).sum() + (1 - mask).sum())
    expected = 1 - (dice_lesion + dice_back) / 2
    assert L.cb_dice_loss(logits, mask).item() == pytest.approx(expected.item(), abs=1e-5)


def test_cb_dice_is_pooled_over_the_batch():
    # image 1 all lesion, image 2 all background: ratios 1/2 each over the batch
    logits = torch.zeros(2, 1, 1, 2)
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).reshape(2, 1, 1, 2)
    # each class: 2 * (0.5 * 2) / (2 + 2) = 0.5 -> loss 0.5
    assert L.cb_dice_loss(logits, mask).item() == pytest.approx(0.5, abs=1e-5)


# -- boundary and texture terms (interaction paper eqs. 11-12) -------------------------------
def test_curvature_kernel_is_zero_mean_and_l1_normalised():
    k = curvature_kernel().double()
    assert k.shape == (1, 1, 5, 5)
    assert k.sum().item() == pytest.approx(0.0, abs=1e-7)
    assert k.abs().sum().item() == pytest.approx(1.0, abs=1e-6)
    # (x^2 - y^2): positive along the row through the centre, negative along the column
    assert k[0, 0, 2, 3] > 0 > k[0, 0, 3, 2]


def test_boundary_loss_by_hand():
    # a single lesion pixel in a 3 x 3 image, predicted empty: the filtered mask is the kernel's
    # centre 3 x 3, nonzero at the four edge neighbours (|value| e^-1/2 / Z each)
    mask = torch.zeros(1, 1, 3, 3)
    mask[0, 0, 1, 1] = 1.0
    logits = torch.full((1, 1, 3, 3), -40.0)
    z = 4 * math.exp(-0.5) + 16 * math.exp(-2.0) + 24 * math.exp(-2.5)  # sum |K| over 5 x 5
    expected = 4 * math.exp(-0.5) / z / 9
    assert L.boundary_loss(logits, mask).item() == pytest.approx(expected, rel=1e-5)
    assert L.boundary_loss((mask * 2 - 1) * 40.0, mask).item() < 1e-6


def test_texture_loss_by_hand():
    # one row (0, 1, 0): Sobel-x responses (2, 0, -2), std sqrt(8/3); p = 0.5: (1, 0, -1),
    # std sqrt(2/3); loss = sqrt(8/3) - sqrt(2/3) = sqrt(2/3)
    mask, logits = _row([0.0, 1.0, 0.0]), _row([0.0, 0.0, 0.0])
    assert L.texture_loss(logits, mask).item() == pytest.approx(math.sqrt(2 / 3), abs=1e-5)


def test_boundary_and_texture_have_gradients():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 8, 8, requires_grad=True)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    (L.boundary_loss(logits, mask) + L.texture_loss(logits, mask)).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


# -- classification losses and BCE ------------------------------------------------------------
def test_focal_ce_by_hand():
    # softmax(ln 3, 0) = (3/4, 1/4); labels (0, 1): p_t = 3/4 and 1/4, gamma = 2
    logits = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    labels = torch.tensor([0, 1])
    expected = (0.25**2 * -math.log(0.75) + 0.75**2 * -math.log(0.25)) / 2
    assert L.focal_ce_loss(logits, labels).item() == pytest.approx(expected, abs=1e-6)
    assert L.focal_ce_loss(logits, labels, gamma=0.0).item() == pytest.approx(
        L.classification_loss(logits, labels).item(), abs=1e-6)


def test_bce_is_the_two_class_cross_entropy():
    torch.manual_seed(0)
    z = torch.randn(3, 1, 4, 4)
    y = (torch.rand(3, 1, 4, 4) > 0.5).float()
    two_class = torch.cat([torch.zeros_like(z), z], dim=1)
    assert L.bce_loss(z, y).item() == pytest.approx(
        F.cross_entropy(two_class, y[:, 0].long()).item(), abs=1e-6)


# -- the registry -----------------------------------------------------------------------------
def test_entries_with_factors_and_bad_entries():
    assert L.parse_seg_entry("boundary:0.25") == ("boundary", 0.25)
    assert L.parse_seg_entry("dice") == ("dice", 1.0)
    with pytest.raises(ValueError, match="unknown segmentation loss 'dcie'.*dice"):
        L.parse_seg_entry("dcie")
    with pytest.raises(ValueError, match="bad factor.*'texture:x'"):
        L.parse_seg_entry("texture:x")
    with pytest.raises(ValueError, match="unknown classification loss 'bce'.*focal_ce"):
        L.cls_loss("bce")


def test_every_loss_documents_its_equation_and_every_choice_is_text():
    import importlib

    for fn in [*L.SEG_LOSSES.values(), *L.CLS_LOSSES.values()]:
        module = importlib.import_module(fn.__module__)
        doc = module.__doc__
        # the interaction paper states its focal Tversky loss in Sec. 2.4 without a number
        assert "eq. " in doc or "eqs. " in doc or "Sec. 2.4" in doc, fn.__module__
    assert L.PROJECT_CHOICES and all(isinstance(v, str) and v for v in L.PROJECT_CHOICES.values())


# -- LossSetup --------------------------------------------------------------------------------
def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    seg = torch.randn(3, 1, 8, 8, generator=g, requires_grad=True)
    cls = torch.randn(3, 2, generator=g, requires_grad=True)
    mask = (torch.rand(3, 1, 8, 8, generator=g) > 0.6).float()
    labels = torch.tensor([0, 1, 1])
    return seg, cls, mask, labels


def test_default_setup_is_task_losses_bit_for_bit():
    setup = L.LossSetup()
    assert setup.is_default and setup.term_names == ("seg", "cls") and setup.num_terms == 2
    seg, cls, mask, labels = _batch()
    reference = L.task_losses(seg, cls, mask, labels)
    ref_grads = torch.autograd.grad(reference.sum(), [seg, cls])
    values = setup.compute(seg, cls, mask, labels)
    grads = torch.autograd.grad(values.terms.sum(), [seg, cls])
    assert torch.equal(values.terms, reference) and torch.equal(values.tasks, reference)
    assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads))
    assert set(values.named) == {"seg_dice", "seg_bce", "cls_ce"} and values.aux is None


def test_losses_mode_gives_one_term_per_named_loss():
    setup = L.LossSetup(seg_losses=("focal_tversky", "boundary:0.25", "texture:0.15"),
                        cls_loss="focal_ce", loss_terms="losses")
    assert setup.term_names == ("seg_focal_tversky", "seg_boundary", "seg_texture", "cls_focal_ce")
    seg, cls, mask, labels = _batch()
    v = setup.compute(seg, cls, mask, labels)
    named = v.named
    expected_terms = [named["seg_focal_tversky"], 0.25 * named["seg_boundary"],
                      0.15 * named["seg_texture"], named["cls_focal_ce"]]
    assert torch.allclose(v.terms, torch.stack(expected_terms))
    assert v.tasks[0].item() == pytest.approx(sum(t.item() for t in expected_terms[:3]), rel=1e-6)
    assert v.tasks[1].item() == pytest.approx(named["cls_focal_ce"].item())
    w = torch.tensor([0.5, 1.0, 1.5, 1.0])
    assert setup.task_weights(w).tolist() == pytest.approx([1.0, 1.0])


def test_auxiliary_factor_decays_per_step_or_per_epoch():
    step = L.LossSetup(aux_loss="cb_dice", aux_gamma0=5.0, aux_tau=0.05)
    assert step.aux_gamma(0, 3) == 5.0
    assert step.aux_gamma(10, 3) == pytest.approx(5.0 * math.exp(-0.5))
    epoch = L.LossSetup(aux_loss="cb_dice", aux_gamma0=2.0, aux_tau=0.5, aux_schedule="epoch")
    assert epoch.aux_gamma(1000, 2) == pytest.approx(2.0 * math.exp(-1.0))
    assert L.LossSetup().aux_gamma(0, 0) == 0.0
    seg, cls, mask, labels = _batch()
    aux = step.compute(seg, cls, mask, labels).aux
    assert aux is not None and aux.item() == pytest.approx(L.cb_dice_loss(seg, mask).item())
    assert not step.is_default


@pytest.mark.parametrize("bad, message", [
    ({"seg_losses": ()}, "seg_losses is empty"),
    ({"seg_losses": ("dice", "dice:2")}, "more than once"),
    ({"cls_loss": "mse"}, "unknown classification loss 'mse'"),
    ({"loss_terms": "all"}, "loss_terms must be one of tasks, losses, got 'all'"),
    ({"aux_loss": "focal"}, "unknown auxiliary loss 'focal'"),
    ({"aux_schedule": "batch"}, "aux_schedule must be one of step, epoch"),
    ({"aux_gamma0": -1.0}, "aux_gamma0 must be a number >= 0"),
    ({"aux_tau": float("nan")}, "aux_tau must be a number >= 0"),
])
def test_bad_setups_name_the_value(bad, message):
    with pytest.raises(ValueError, match=message):
        L.LossSetup(**bad)
