"""The options every network benchmark shares (input size, batch, encoder) and their checks, so
that ``busmtl bench weighting`` and ``busmtl bench aggregators`` read and refuse them alike, and
the machine facts both record beside their times."""

from __future__ import annotations

import argparse
import os
import platform
from typing import Any


def add_network_options(p: argparse.ArgumentParser, image_size: int, batch_size: int,
                        encoder: str) -> None:
    """``--image-size``, ``--batch-size`` and ``--encoder`` with the benchmark's defaults."""
    p.add_argument("--image-size", type=int, default=image_size,
                   help=f"square input side, a multiple of 32 (default {image_size})")
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help=f"batch size (default {batch_size})")
    p.add_argument("--encoder", default=encoder, help=f"smp encoder name (default {encoder})")


def check_counts(args: argparse.Namespace, *names: str) -> None:
    """Refuse a count below 1 among ``names`` (option names with ``_``) and an image side the
    U-Net cannot halve five times, naming the option."""
    for name in names:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.image_size % 32:
        raise ValueError(f"--image-size must be a multiple of 32 (U-Net), got {args.image_size}")


def environment() -> dict[str, Any]:
    """Where a benchmark ran: torch and Python, the CPU (model, vendor, the level torch's kernels
    run at), its cores and load, and the GPU if any."""
    import torch

    from busmtl.training import isa

    try:
        load = list(os.getloadavg())
    except OSError:  # pragma: no cover - not on Linux/macOS
        load = None
    return {
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": isa.cpuinfo_field("model name"),
        "cpu_vendor": isa.cpu_vendor(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
