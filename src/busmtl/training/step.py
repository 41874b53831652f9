"""One training step, shared by the trainer, the benchmark, the toy simulation and the tests.

A step of multi-task training with a loss weighter (eq. 1 of the ATDWA paper,
``L = sum_k w_k L_k``)::

    optimizer.zero_grad()
    losses = compute_losses()            # the K unweighted losses, with grad
    weights = weighter.backward(losses, model)   # forms sum_k w_k L_k and back-propagates it
    optimizer.step()

:func:`train_step` is exactly that, plus finiteness checks. :func:`network_losses` is the
``compute_losses`` of SSC-ResNet: the forward pass (in the run's precision and memory layout)
and the two task losses of :mod:`busmtl.losses`, always computed in float32, handed over as
separate scalars (:class:`StepLosses`) so that a method needing per-task gradients
(``per_task_gradients``) differentiates each loss through its own head only (see
:meth:`busmtl.weighting.base.Weighter.terms`); every other method receives them stacked.

Fast path on a CPU. ``precision="bf16"`` runs the forward pass under
``torch.autocast("cpu", dtype=torch.bfloat16)`` and ``channels_last`` stores activations as
NHWC. bf16 pays off only where the CPU computes it natively (AVX512-BF16 or AMX); elsewhere
oneDNN emulates it and a step is ~20x *slower* (measured: 1.7 s fp32 vs 38 s bf16 on an
AVX2-only CPU), so ``precision="auto"`` picks bf16 only where :func:`bf16_native` is true.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from busmtl import TASKS
from busmtl import losses as L


class NonFiniteLossError(RuntimeError):
    """A task loss (or a weight) became NaN or infinite; the message names the task and step."""


def bf16_native(device: torch.device | str = "cpu") -> bool:
    """True where bfloat16 matrix products run natively: a CUDA device that supports bf16, or
    a CPU whose oneDNN build reports native bf16 (AVX512-BF16 / AMX)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


#: The networks for which ``precision="auto"`` may choose bf16. Not the decoder-interaction
#: network: ``busmtl bench models`` measures no gain from bf16 there (0.97x the fp32 step time on
#: an AVX-512 CPU with native bf16, against 0.64x for SSC-ResNet), and its bf16 training is
#: unstable: of 10 one-epoch quick-profile runs with identical settings, 2 stopped with NaN losses
#: and the others did not all agree bit for bit.
BF16_AUTO_MODELS: frozenset[str] = frozenset({"ssc_resnet"})


def resolve_precision(precision: str, device: torch.device | str, model: str = "ssc_resnet") -> str:
    """``"auto"`` -> ``"bf16"`` for a network of :data:`BF16_AUTO_MODELS` on a CPU with native
    bf16, else ``"fp32"`` (GPUs keep the paper's fp32); ``"fp32"`` / ``"bf16"`` as given."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    native = device.type == "cpu" and bf16_native(device)
    return "bf16" if native and model in BF16_AUTO_MODELS else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of ``precision`` (a no-op for fp32)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """A 4-D tensor in NHWC memory layout when ``channels_last`` (values unchanged)."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


@dataclass(frozen=True)
class Batch:
    """One batch of the BUSI task: images ``[B,C,H,W]``, masks ``[B,1,H,W]``, labels ``[B]``."""

    image: torch.Tensor
    mask: torch.Tensor
    label: torch.Tensor

    def to(self, device: torch.device, channels_last: bool = False) -> Batch:
        return Batch(to_layout(self.image.to(device), channels_last), self.mask.to(device),
                     self.label.to(device))

    def __len__(self) -> int:
        return len(self.label)


def network_outputs(model: nn.Module, batch: Batch, device: torch.device,
                    precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """SSC-ResNet's ``(seg_logits, cls_logits)`` in float32, the forward pass in ``precision``."""
    with autocast(device, precision):
        seg_logits, cls_logits = model(batch.image)
    return seg_logits.float(), cls_logits.float()


@dataclass(frozen=True)
class StepLosses:
    """What a step's ``compute_losses`` returns when a plain 1-D tensor is not enough.

    ``terms``: the K unweighted losses as separate scalar tensors (a weighter stacks them into
    ``[L_1, ..., L_K]``; kept apart, each one's graph reaches only its own head);
    ``outside``: a scalar with grad added *outside* the weighting, or ``None``.
    """

    terms: tuple[torch.Tensor, ...]
    outside: torch.Tensor | None = None


def network_losses(model: nn.Module, batch: Batch, device: torch.device,
                   precision: str) -> StepLosses:
    """``L_seg, L_cls`` of ``model`` on ``batch`` (:func:`busmtl.losses.task_loss_terms`)."""
    seg_logits, cls_logits = network_outputs(model, batch, device, precision)
    return StepLosses(L.task_loss_terms(seg_logits, cls_logits, batch.mask, batch.label))


def check_finite(values: torch.Tensor, what: str, where: str, hint: str = "",
                 names: Sequence[str] | None = None) -> None:
    """Raise :class:`NonFiniteLossError` naming the tasks (or ``names``, one per value) whose
    ``values`` are NaN or inf."""
    if names is None or len(names) != len(values):
        names = TASKS if len(values) == len(TASKS) else tuple(str(k) for k in range(len(values)))
    bad = [k for k in range(len(values)) if not math.isfinite(float(values[k]))]
    if bad:
        shown = ", ".join(f"{names[k]} = {float(values[k])}" for k in bad)
        raise NonFiniteLossError(
            f"non-finite {what} for task(s) {', '.join(names[k] for k in bad)} ({shown}) at "
            f"{where}.{(' ' + hint) if hint else ''} Try a lower --lr or another weighter setting."
        )


def train_step(
    model: nn.Module,
    weighter: nn.Module,
    optimizer: torch.optim.Optimizer,
    compute_losses: Callable[[], torch.Tensor | StepLosses],
    *,
    where: str = "a training step",
    hint: str = "",
    names: Sequence[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One weighted multi-task step; returns the detached ``(losses, weights)``.

    ``compute_losses()`` runs the forward pass and returns the K unweighted losses, as a 1-D
    tensor or as a :class:`StepLosses`; the weighter back-propagates ``sum_k w_k L_k`` (or its own
    objective, e.g. UW's) and returns the weights.

    ``StepLosses.outside`` is a term added *outside* the weighting, e.g. DMF's decaying auxiliary
    loss ``gamma(t) L_a`` (eq. 2 of Golnari & Diba). It is back-propagated first (the graph is
    kept), then the weighter's backward accumulates its gradients on top, so the network receives
    the gradient of ``sum_k w_k L_k + outside``. ``names`` names the K losses in error messages.
    """
    optimizer.zero_grad(set_to_none=True)
    result = compute_losses()
    if isinstance(result, StepLosses):
        # apart for a weighter that differentiates each loss alone, else the usual 1-D tensor
        stacked = torch.stack(result.terms)
        apart = getattr(weighter, "per_task_gradients", False)
        losses: torch.Tensor | tuple[torch.Tensor, ...] = result.terms if apart else stacked
        values = stacked.detach()
        outside = result.outside
    else:
        losses, values, outside = result, result.detach(), None
    check_finite(values, "loss", where, hint, names)
    if outside is not None:
        check_finite(outside.detach().reshape(1), "auxiliary loss", where, hint, ("aux",))
        outside.backward(retain_graph=True)
    weights = weighter.backward(losses, model)
    check_finite(weights, "weight", where, hint, names)
    optimizer.step()
    return values, weights.detach()


@contextlib.contextmanager
def torch_settings(device: torch.device, num_threads: int | None) -> Iterator[None]:
    """Deterministic algorithms on the CPU and ``num_threads`` intra-op threads, restored after."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        if num_threads:
            torch.set_num_threads(int(num_threads))
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
