"""The shared training step: precision, memory layout, finiteness checks."""

from __future__ import annotations

import pytest
import torch

from busmtl.models import SSCResNet
from busmtl.training import step
from busmtl.weighting import get_weighter


def _batch(size: int = 32, n: int = 4) -> step.Batch:
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(n, 1, size, size, generator=g) > 0.7).float()
    return step.Batch(torch.randn(n, 3, size, size, generator=g), mask, torch.tensor([0, 1, 0, 1]))


_MODEL: list[SSCResNet] = []


def _model() -> SSCResNet:
    """A small SSC-ResNet in eval mode, built once and copied (building traces the encoder)."""
    import copy

    if not _MODEL:
        torch.manual_seed(0)
        _MODEL.append(SSCResNet("resnet18", None, 2, 0.0, (16, 8, 8, 8, 8)).eval())
    return copy.deepcopy(_MODEL[0])


def test_auto_precision_is_bf16_only_where_native(monkeypatch):
    monkeypatch.setattr(step, "bf16_native", lambda device="cpu": False)
    assert step.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(step, "bf16_native", lambda device="cpu": True)
    assert step.resolve_precision("auto", "cpu") == "bf16"
    assert step.resolve_precision("auto", "cuda") == "fp32"  # GPUs keep the paper's fp32
    assert step.resolve_precision("fp32", "cpu") == "fp32"
    # the decoder-interaction network gains nothing from bf16 and trained unstably with it
    assert step.resolve_precision("auto", "cpu", "interaction") == "fp32"
    assert step.resolve_precision("bf16", "cpu", "interaction") == "bf16"  # asked for: given
    with pytest.raises(ValueError, match="precision must be auto, fp32 or bf16, got 'fp16'"):
        step.resolve_precision("fp16", "cpu")


def test_channels_last_changes_layout_not_values():
    model, batch = _model(), _batch()
    cpu = torch.device("cpu")
    with torch.no_grad():
        plain = torch.stack(step.network_losses(model, batch, cpu, "fp32").terms)
        model_cl = model.to(memory_format=torch.channels_last)
        fast = torch.stack(
            step.network_losses(model_cl, batch.to(cpu, channels_last=True), cpu, "fp32").terms)
    assert batch.to(cpu, channels_last=True).image.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(plain, fast, rtol=1e-4)


def test_bf16_forward_gives_float32_losses_close_to_fp32():
    model, batch = _model(), _batch()
    cpu = torch.device("cpu")
    with torch.no_grad():
        full = torch.stack(step.network_losses(model, batch, cpu, "fp32").terms)
        half = torch.stack(step.network_losses(model, batch, cpu, "bf16").terms)
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    assert torch.allclose(full, half, rtol=0.05)  # bf16 keeps ~3 significant digits


def test_train_step_returns_detached_losses_and_weights_and_updates_the_model():
    model, batch = _model().train(), _batch()
    cpu = torch.device("cpu")
    weighter = get_weighter("ew", 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    losses, weights = step.train_step(
        model, weighter, optimizer, lambda: step.network_losses(model, batch, cpu, "fp32"))
    assert not losses.requires_grad and weights.tolist() == [1.0, 1.0]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_non_finite_loss_names_the_task_and_the_place():
    model = _model()
    weighter = get_weighter("ew", 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    bad = lambda: torch.tensor([1.0, float("nan")], requires_grad=True)
    with pytest.raises(step.NonFiniteLossError, match=r"task\(s\) cls \(cls = nan\) at epoch 3"):
        step.train_step(model, weighter, optimizer, bad, where="epoch 3, step 1")
