"""Checks of command-line values that ``train`` and ``evaluate`` share: ``--device`` and the
``--out`` folder. Each raises :class:`~busmtl.errors.UserError` (one line, exit code 2) before
anything is computed or written."""

from __future__ import annotations

import re
from pathlib import Path

from busmtl.errors import UserError

#: ``auto``, ``cpu``, ``mps``, or ``cuda`` / ``xpu`` with an optional index (``cuda:1``).
_DEVICE = re.compile(r"^(auto|cpu|mps|(cuda|xpu)(:\d+)?)$")


def check_device(value: str | None, option: str = "--device") -> None:
    """Refuse a device name torch would not parse (``None`` means the profile's or run's)."""
    if value is not None and not _DEVICE.match(value.strip()):
        raise UserError(f"{option} {value!r} is not a device: use auto, cpu, cuda or cuda:N "
                        "(N the GPU's index)")


def check_out_folder(path: str | Path, option: str = "--out") -> None:
    """Refuse an output folder path that is an existing file or lies under one."""
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise UserError(f"{option} {target} is a file, not a folder: give a folder to write "
                        "the results to")
    blocking = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UserError(f"{option} {target}: {blocking} is a file, not a folder; give a path "
                        "in a folder")
