"""Efficiency figures of a training run (the primary paper's Table III).

* step time: wall time of one training step (forward, both losses, the weighter's backward,
  the optimiser step), in ms;
* epoch time: wall time of one epoch (training pass plus validation pass), in s;
* peak memory: ``torch.cuda.max_memory_allocated`` on a GPU, the process's peak resident set
  size (Linux ``VmHWM``, reset at the start of the run when the kernel allows it; otherwise
  ``ru_maxrss`` of the process so far) on a CPU, in MiB;
* step memory: the peak minus the memory in use just before the first training step (model,
  data and libraries loaded): what training adds (activations, gradients, optimiser state, the
  weighter's buffers). On a CPU the whole-process RSS is dominated by torch and the data, which
  hides the differences between weighters; the step memory shows them.

On CUDA the timers synchronise the device before reading the clock, so the time covers the
queued kernels and not just their launch.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

import torch

_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work on ``device`` (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Collects wall-clock durations (seconds) of repeated sections, CUDA-synchronised.

    >>> watch = Stopwatch(torch.device("cpu"))
    >>> watch.start(); _ = sum(range(10)); seconds = watch.stop()
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.durations: list[float] = []
        self._t0: float | None = None

    def start(self) -> None:
        synchronize(self.device)
        self._t0 = time.perf_counter()

    def stop(self) -> float:
        if self._t0 is None:
            raise RuntimeError("Stopwatch.stop() called before start()")
        synchronize(self.device)
        elapsed = time.perf_counter() - self._t0
        self._t0 = None
        self.durations.append(elapsed)
        return elapsed

    def max(self) -> float:
        return max(self.durations) if self.durations else float("nan")

    def median(self) -> float:
        return statistics.median(self.durations) if self.durations else float("nan")


def _read_vm_hwm_kib() -> int | None:
    """The process's peak resident set size (KiB) from ``/proc/self/status``, if available."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_memory(device: torch.device) -> None:
    """Start measuring peak memory from now (CUDA peak stats; Linux peak RSS when permitted)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # writing 5 resets VmHWM to the current RSS (Linux >= 4.0)
        _PROC_CLEAR_REFS.write_text("5")
    except OSError:
        pass


def _read_status_kib(key: str) -> int | None:
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_now_mb(device: torch.device) -> float:
    """Memory in use now (MiB): CUDA allocated bytes, or the process's resident set (``VmRSS``)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    kib = _read_status_kib("VmRSS")
    return float("nan") if kib is None else kib / 1024


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """``(peak MiB, kind)`` with kind ``"cuda_max_allocated"`` or ``"cpu_peak_rss"``."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    kib = _read_vm_hwm_kib()
    if kib is None:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = maxrss // 1024 if sys.platform == "darwin" else maxrss  # macOS reports bytes
    return kib / 1024, "cpu_peak_rss"


def efficiency_summary(steps: Stopwatch, epochs: Stopwatch, device: torch.device,
                       baseline_mb: float = float("nan")) -> dict[str, object]:
    """The ``efficiency`` block of ``metrics.json`` (see DEVELOPERS.md, Run folder);
    ``baseline_mb`` is :func:`memory_now_mb` just before the first training step."""
    peak, kind = peak_memory_mb(device)
    return {
        "peak_memory_mb": float(peak),
        "memory_kind": kind,
        "baseline_memory_mb": float(baseline_mb),
        "step_memory_mb": float(max(peak - baseline_mb, 0.0)),
        "step_time_ms_max": 1000.0 * steps.max(),
        "step_time_ms_median": 1000.0 * steps.median(),
        "epoch_time_s_max": epochs.max(),
        "epoch_time_s_median": epochs.median(),
        "device": str(device),
    }
