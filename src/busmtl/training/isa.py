"""The CPU instruction-set level that training runs at (setting ``cpu_isa``).

CPU results are bit-identical only at the same torch version, thread count, precision,
instruction-set level *and* CPU vendor (:func:`platform_key`): PyTorch picks its vectorised kernels (ATen) and oneDNN picks its
convolution kernels by what the CPU offers, and AVX-512 kernels sum in another order than AVX2
ones. Measured: on an AVX-512 host the committed reference runs (made on an AVX2-only host)
differ by 3 % in the first epoch, and match exactly with the two variables below.

``cpu_isa``:

* ``"native"``: whatever the CPU offers (fastest; results tied to this CPU's level);
* ``"avx2"``: ATen and oneDNN limited to AVX2 (``ATEN_CPU_CAPABILITY=avx2``,
  ``ONEDNN_MAX_CPU_ISA=AVX2``): the same numbers on every x86-64 CPU with AVX2;
* ``"avx512"``: limited to AVX-512 (needs a CPU that has it).

Both libraries read the variables once, when torch is imported or first computes, so
:func:`pin` must run **before** torch is imported; :func:`check` verifies afterwards that torch
really runs at the requested level. This module imports nothing from torch at import time.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from busmtl.config import CPU_ISAS

#: Environment of each pinned level: ATen's dispatch level and oneDNN's ISA cap.
ISA_ENV: dict[str, dict[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
}
#: What ``torch.backends.cpu.get_cpu_capability()`` reports at each pinned level.
ISA_CAPABILITY: dict[str, str] = {"avx2": "AVX2", "avx512": "AVX512"}
#: The /proc/cpuinfo flag a pinned level needs.
ISA_FLAG: dict[str, str] = {"avx2": "avx2", "avx512": "avx512f"}


class IsaError(ValueError):
    """A pinned level that this process or this CPU cannot provide (one clear message)."""


def check_name(cpu_isa: str) -> str:
    """``cpu_isa`` itself, or :class:`IsaError` naming the valid levels."""
    if cpu_isa not in CPU_ISAS:
        raise IsaError(f"cpu_isa must be one of {', '.join(CPU_ISAS)}, got {cpu_isa!r}")
    return cpu_isa


def cpuinfo_field(name: str) -> str | None:
    """The first ``name`` line of ``/proc/cpuinfo`` (``None`` where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == name:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where it cannot be read)."""
    return set((cpuinfo_field("flags") or "").split())


def cpu_vendor() -> str:
    """The CPU's vendor (``GenuineIntel``, ``AuthenticAMD``, ...; ``unknown`` elsewhere).

    Pinning the level is not all: at the same level, Intel's and AMD's CPUs take different code
    paths in MKL and oneDNN (blocking chosen by the vendor and cache sizes), so bit-identical
    results also need the same vendor (:func:`platform_key`)."""
    return cpuinfo_field("vendor_id") or "unknown"


def platform_key(cpu_isa: str) -> str:
    """``<vendor>-<level>`` of this machine running at ``cpu_isa`` (e.g. ``GenuineIntel-avx2``):
    runs of the same torch, threads and precision are bit-identical on machines of one key."""
    level = host_level() if cpu_isa == "native" else cpu_isa
    return f"{cpu_vendor()}-{level}"


def host_level() -> str:
    """The highest level this CPU offers: ``"avx512"``, ``"avx2"`` or ``"other"`` (not x86-64
    or older than AVX2)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "other"
    flags = cpu_flags()
    if "avx512f" in flags:
        return "avx512"
    return "avx2" if "avx2" in flags else "other"


def host_supports(cpu_isa: str) -> bool:
    """True when this CPU can run at ``cpu_isa`` (``native`` always)."""
    check_name(cpu_isa)
    if cpu_isa == "native":
        return True
    return platform.machine().lower() in ("x86_64", "amd64") and ISA_FLAG[cpu_isa] in cpu_flags()


def env_for(cpu_isa: str) -> dict[str, str]:
    """The variables that pin ``cpu_isa`` (empty for ``native``)."""
    return dict(ISA_ENV.get(check_name(cpu_isa), {}))


def pinned_in(env: dict[str, str] | os._Environ) -> bool:
    """True when ``env`` already holds some pinning variable."""
    return any(k in env for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"))


def pin(cpu_isa: str) -> None:
    """Set the variables of ``cpu_isa`` in this process, before torch is imported.

    A no-op for ``native`` or when they already hold these values. Raises :class:`IsaError`
    when the CPU lacks the level, or when torch is already imported with other values (the
    variables would come too late: start a new process with them set)."""
    wanted = env_for(cpu_isa)
    if all(os.environ.get(k) == v for k, v in wanted.items()):
        return
    if not host_supports(cpu_isa):
        raise IsaError(f"cpu_isa={cpu_isa}: this CPU ({platform.machine()}, level "
                       f"{host_level()}) cannot run at that level; use cpu_isa=native")
    if "torch" in sys.modules:
        shown = " ".join(f"{k}={v}" for k, v in wanted.items())
        raise IsaError(f"cpu_isa={cpu_isa} must be set before torch is imported, and torch is "
                       f"already loaded in this process: start it with {shown}")
    os.environ.update(wanted)


def capability() -> str:
    """What torch runs at now: ``torch.backends.cpu.get_cpu_capability()`` (e.g. ``"AVX2"``)."""
    import torch

    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def check(cpu_isa: str) -> None:
    """Raise :class:`IsaError` unless torch in this process runs at ``cpu_isa`` (ATen's level
    and oneDNN's cap); ``native`` asks for no particular level and always passes."""
    if check_name(cpu_isa) == "native":
        return
    shown = " ".join(f"{k}={v}" for k, v in env_for(cpu_isa).items())
    got = capability()
    if got != ISA_CAPABILITY[cpu_isa]:
        raise IsaError(f"cpu_isa={cpu_isa}, but torch runs at {got}: start the process with "
                       f"{shown} (busmtl train and busmtl sweep set them for you)")
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA")
    if host_level() != cpu_isa and onednn != ISA_ENV[cpu_isa]["ONEDNN_MAX_CPU_ISA"]:
        raise IsaError(f"cpu_isa={cpu_isa}, but oneDNN is not capped (ONEDNN_MAX_CPU_ISA="
                       f"{onednn}) on this {host_level()} CPU: start the process with {shown}")


def provenance() -> dict[str, str | None]:
    """What a run records about its instruction set: torch's level, oneDNN's cap and the
    host's highest level (an AVX2 from an AVX-512 host)."""
    return {
        "cpu_vendor": cpu_vendor(),
        "cpu_capability": capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "host_isa": host_level(),
    }
