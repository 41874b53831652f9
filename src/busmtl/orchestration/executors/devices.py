"""GPUs for the local executor: which ones (``--devices``) and how many runs share each
(``--runs-per-device``).

A run placed on a GPU sees only that GPU: its worker gets ``CUDA_VISIBLE_DEVICES=<id>``, so the
run's ``device`` parameter (``auto`` or ``cuda``, part of its hash) stays the same on whichever
GPU it lands, and resuming never depends on the placement. The run folder's ``config.json``
records where it ran (``provenance.device``, ``provenance.visible_devices``) and with how many
threads (``provenance.num_threads``).

Names follow PyTorch in the shell that starts the sweep: ``cuda:1`` is what ``torch`` calls
``cuda:1`` there (the second entry of ``CUDA_VISIBLE_DEVICES`` when that is set).
"""

from __future__ import annotations

import os
from collections import Counter


def visible_cuda_devices() -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` entries of the GPUs this process can use (empty: no GPU)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no torch CUDA: CPU only
        return []


def parse_devices(text: str | None, device: str | None,
                  visible: list[str] | None = None) -> list[str]:
    """The GPUs to place runs on, as ``CUDA_VISIBLE_DEVICES`` entries.

    ``text``: ``None`` (every visible GPU when ``device`` is ``auto``/``cuda``, none for ``cpu``),
    ``"all"``, or a list such as ``"cuda:0,cuda:1"`` / ``"0,1"``. ``visible`` defaults to
    :func:`visible_cuda_devices`. Raises ``ValueError`` naming the bad value.
    """
    device = device or "auto"
    if text is None:
        if device not in ("auto", "cuda"):
            return []  # a CPU run, or one explicit device such as cuda:1 (no placement)
        return list(visible_cuda_devices() if visible is None else visible)
    if device not in ("auto", "cuda"):
        raise ValueError(f"--devices {text} places runs on GPUs, but --device is {device!r}: "
                         "use --device auto or cuda with --devices")
    visible = visible_cuda_devices() if visible is None else visible
    if text.strip() == "all":
        if not visible:
            raise ValueError("--devices all: no CUDA device is visible here; leave --devices out "
                             "to run on the CPU")
        return list(visible)
    chosen: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        index = item.removeprefix("cuda:")
        if not index.isdigit():
            raise ValueError(f"--devices {text!r}: {item!r} is not a GPU; use e.g. cuda:0,cuda:1, "
                             "0,1 or all")
        if int(index) >= len(visible):
            known = f"cuda:0 to cuda:{len(visible) - 1}" if visible else "none"
            raise ValueError(f"--devices {text!r}: {item} is not visible here (visible: {known})")
        chosen.append(visible[int(index)])
    if not chosen:
        raise ValueError(f"--devices {text!r}: name at least one GPU, e.g. cuda:0, or all")
    return list(dict.fromkeys(chosen))


class DevicePool:
    """Free places on GPUs: each of ``devices`` takes up to ``runs_per_device`` runs at once."""

    def __init__(self, devices: list[str], runs_per_device: int = 1) -> None:
        if int(runs_per_device) < 1:
            raise ValueError(f"--runs-per-device {runs_per_device}: use 1 or more")
        self.devices = list(devices)
        self.runs_per_device = int(runs_per_device)
        self._busy: Counter[str] = Counter()

    @property
    def capacity(self) -> int:
        """Runs that fit at once."""
        return len(self.devices) * self.runs_per_device

    def acquire(self) -> str | None:
        """The least busy device with a free place (first one on a tie), or ``None``."""
        free = [d for d in self.devices if self._busy[d] < self.runs_per_device]
        if not free:
            return None
        device = min(free, key=lambda d: self._busy[d])
        self._busy[device] += 1
        return device

    def release(self, device: str) -> None:
        if self._busy[device] <= 0:
            raise ValueError(f"device {device} released more often than acquired")
        self._busy[device] -= 1
