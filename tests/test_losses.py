"""Losses: hand-computed values and basic properties (busmtl.losses)."""

import math

import pytest
import torch

from busmtl import losses as L


def _mask(values):
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, 1, -1)


def test_segmentation_loss_is_dice_plus_bce_by_hand():
    # p = sigmoid(0) = 0.5 on two pixels, y = (1, 0):
    # Dice = 2 * 0.5 / (1.0 + 1) = 0.5 -> Dice loss 0.5; BCE = ln 2 on each pixel.
    logits, mask = _mask([0.0, 0.0]), _mask([1.0, 0.0])
    assert L.dice_loss(logits, mask).item() == pytest.approx(0.5, abs=1e-6)
    assert L.bce_loss(logits, mask).item() == pytest.approx(math.log(2), abs=1e-6)
    assert L.segmentation_loss(logits, mask).item() == pytest.approx(0.5 + math.log(2), abs=1e-6)


def test_dice_is_pooled_over_the_batch():
    # image 1: p = (0.5, 0.5), y = (1, 1); image 2: p = (0.5, 0.5), y = (0, 0)
    # pooled: 2 * 1.0 / (2.0 + 2) = 0.5 -> loss 0.5 (a per-image mean would give (1/3 + 1) / 2)
    logits = torch.zeros(2, 1, 1, 2)
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).reshape(2, 1, 1, 2)
    assert L.dice_loss(logits, mask).item() == pytest.approx(0.5, abs=1e-6)


def test_empty_batch_contributes_only_bce():
    logits, mask = _mask([0.0, 0.0]), _mask([0.0, 0.0])
    assert L.segmentation_loss(logits, mask).item() == pytest.approx(math.log(2), abs=1e-6)


def test_confident_correct_prediction_has_near_zero_loss():
    mask = _mask([1.0, 0.0, 1.0, 0.0])
    logits = (mask * 2 - 1) * 30.0
    assert L.segmentation_loss(logits, mask).item() < 1e-6
    assert L.segmentation_loss(-logits, mask).item() > 10


def test_classification_loss_is_cross_entropy_by_hand():
    # softmax(ln 3, 0) = (3/4, 1/4)
    logits = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    labels = torch.tensor([0, 1])
    expected = (-math.log(0.75) - math.log(0.25)) / 2
    assert L.classification_loss(logits, labels).item() == pytest.approx(expected, abs=1e-6)


def test_task_losses_order_and_gradients():
    torch.manual_seed(0)
    seg = torch.randn(3, 1, 4, 4, requires_grad=True)
    cls = torch.randn(3, 2, requires_grad=True)
    mask = (torch.rand(3, 1, 4, 4) > 0.5).float()
    labels = torch.tensor([0, 1, 1])
    losses = L.task_losses(seg, cls, mask, labels)
    assert losses.shape == (2,)
    assert losses[0].item() == pytest.approx(L.segmentation_loss(seg, mask).item())
    assert losses[1].item() == pytest.approx(L.classification_loss(cls, labels).item())
    losses.sum().backward()
    assert seg.grad is not None and cls.grad is not None


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match="differ in shape"):
        L.segmentation_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2, 2))
