"""The SLURM settings of a sweep, from command-line flags and an optional small config file.

Flags: ``--partition``, ``--time``, ``--cpus-per-run``, ``--mem``, ``--gpus-per-run``,
``--sbatch KEY=VALUE`` (repeatable), ``--slurm-config FILE``. The file (YAML ``.yaml``/``.yml``
or TOML ``.toml``) holds the same settings; flags given on the command line win::

    partition: gpu
    time: "2:00:00"        # minutes, M:SS, H:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (SLURM's forms)
    cpus_per_run: 4        # default: the run's --threads
    mem: 8G                # per run; K, M, G or T (default 4G)
    gpus_per_run: 1
    max_running: 8         # array tasks at once (default: no limit; --jobs sets it too)
    poll_seconds: 5        # how often squeue is asked
    sbatch:                # any other sbatch option
      account: my-lab
      qos: normal

A bad value raises ``ValueError`` naming the flag or key, the value and what to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: sbatch options that busmtl sets itself and that ``--sbatch`` may not change.
RESERVED_SBATCH: frozenset[str] = frozenset(
    {"array", "output", "error", "open-mode", "signal", "wrap", "parsable"})

#: sbatch options that have their own flag.
FLAG_FOR_SBATCH: dict[str, str] = {
    "partition": "--partition", "p": "--partition", "time": "--time", "t": "--time",
    "mem": "--mem", "cpus-per-task": "--cpus-per-run", "c": "--cpus-per-run",
    "gpus-per-node": "--gpus-per-run", "gpus": "--gpus-per-run",
}

_TIME_FORMS = "minutes (90), M:SS, H:MM:SS (1:30:00), D-HH, D-HH:MM or D-HH:MM:SS (2-00:00:00)"


def parse_time(text: str | int, where: str = "--time") -> int:
    """A SLURM time limit in whole minutes (seconds are rounded up)."""
    value = str(text).strip()
    days = 0
    rest = value
    match = re.fullmatch(r"(\d+)-(.+)", value)
    if match:
        days, rest = int(match.group(1)), match.group(2)
    parts = rest.split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        raise ValueError(f"{where} {value!r}: use {_TIME_FORMS}")
    numbers = [int(p) for p in parts]
    if match:  # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = (numbers + [0, 0])[:3]
    elif len(numbers) == 1:  # minutes
        hours, minutes, seconds = 0, numbers[0], 0
    elif len(numbers) == 2:  # minutes:seconds
        hours, (minutes, seconds) = 0, numbers
    else:
        hours, minutes, seconds = numbers
    total = days * 24 * 60 + hours * 60 + minutes + (1 if seconds else 0)
    if total < 1:
        raise ValueError(f"{where} {value!r}: the time limit must be at least 1 minute")
    return total


def format_time(minutes: int) -> str:
    """``H:MM:00`` (``D-HH:MM:00`` from one day on), as SLURM prints limits."""
    days, rest = divmod(int(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    return f"{days}-{hours:02d}:{mins:02d}:00" if days else f"{hours}:{mins:02d}:00"


def parse_mem(text: str | int, where: str = "--mem") -> str:
    """Memory per run in SLURM's form: a number with K, M, G or T (``4G``; ``4GB`` is accepted)."""
    value = str(text).strip().upper()
    match = re.fullmatch(r"(\d+)\s*([KMGT]?)B?", value)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"{where} {text!r}: give the memory per run as a number with K, M, G or "
                         "T, e.g. 4G or 500M")
    return f"{int(match.group(1))}{match.group(2) or 'M'}"


def _positive_int(value: Any, where: str, minimum: int = 1) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = minimum - 1
    if number < minimum or str(value).strip() != str(number):
        raise ValueError(f"{where} {value!r}: use a whole number >= {minimum}")
    return number


def sbatch_key(key: str) -> str:
    """``--Account`` / ``mail_type`` -> ``account`` / ``mail-type``."""
    return key.strip().lstrip("-").replace("_", "-").lower()


def parse_sbatch(items: list[str] | dict[str, Any] | None,
                 where: str = "--sbatch") -> dict[str, Any]:
    """Extra sbatch options from ``["KEY=VALUE", "exclusive"]`` or a mapping (a bare key or the
    value ``true`` is a flag without value)."""
    if not items:
        return {}
    pairs: list[tuple[str, Any]] = []
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        for item in items:
            key, sep, value = item.partition("=")
            pairs.append((key, value if sep else True))
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        key = sbatch_key(str(raw_key))
        shown = f"{where} {raw_key}" + ("" if value is True else f"={value}")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
            raise ValueError(f"{shown}: not an sbatch option; write KEY=VALUE, e.g. account=my-lab")
        if key in RESERVED_SBATCH:
            raise ValueError(f"{shown}: busmtl sets --{key} itself; leave it out")
        if key in FLAG_FOR_SBATCH:
            raise ValueError(f"{shown}: use {FLAG_FOR_SBATCH[key]} instead")
        if value is False or value is None or (value is not True and str(value).strip() == ""):
            raise ValueError(f"{shown}: give a value (KEY=VALUE), or the bare KEY for a flag")
        out[key] = True if value is True else str(value).strip()
    return out


@dataclass
class SlurmSettings:
    """Resources and options of every job of the array (one job = one run)."""

    partition: str | None = None  # None: the cluster's default partition
    time_min: int = 240
    cpus_per_run: int | None = None  # None: the run's threads
    mem: str = "4G"
    gpus_per_run: int = 0
    max_running: int | None = None  # array tasks at once; None: no limit of ours
    poll_seconds: float = 5.0
    sbatch: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sources(cls, config_file: str | Path | None = None, **flags: Any) -> SlurmSettings:
        """Defaults, then ``config_file``, then the flags that are not ``None``: ``partition``,
        ``time``, ``cpus_per_run``, ``mem``, ``gpus_per_run``, ``max_running``, ``poll_seconds``,
        ``sbatch`` (a list of ``KEY=VALUE``)."""
        settings = cls()
        if config_file is not None:
            settings._apply(read_config(config_file), where=f"{config_file}:", flag_style=False)
        settings._apply({k: v for k, v in flags.items() if v not in (None, [], {})}, where="",
                        flag_style=True)
        return settings

    def _apply(self, values: dict[str, Any], where: str, flag_style: bool) -> None:
        def name(key: str) -> str:
            return f"--{key.replace('_', '-')}" if flag_style else f"{where} {key}"

        for key, value in values.items():
            if key == "partition":
                if not str(value).strip() or " " in str(value).strip():
                    raise ValueError(f"{name(key)} {value!r}: give one partition name "
                                     "(sinfo lists them)")
                self.partition = str(value).strip()
            elif key == "time":
                self.time_min = parse_time(value, name(key))
            elif key == "cpus_per_run":
                self.cpus_per_run = _positive_int(value, name(key))
            elif key == "mem":
                self.mem = parse_mem(value, name(key))
            elif key == "gpus_per_run":
                self.gpus_per_run = _positive_int(value, name(key), minimum=0)
            elif key == "max_running":
                self.max_running = _positive_int(value, name(key))
            elif key == "poll_seconds":
                try:
                    self.poll_seconds = float(value)
                except (TypeError, ValueError):
                    self.poll_seconds = -1.0
                if not 0.1 <= self.poll_seconds <= 600:
                    raise ValueError(f"{name(key)} {value!r}: use a number of seconds from "
                                     "0.1 to 600")
            elif key == "sbatch":
                where_sbatch = "--sbatch" if flag_style else f"{where} sbatch:"
                self.sbatch.update(parse_sbatch(value, where_sbatch))
            else:  # only a config file can name an unknown key; flags are fixed by argparse
                raise ValueError(f"{name(key)}: unknown setting; valid: {', '.join(CONFIG_KEYS)}")

    def describe(self) -> dict[str, Any]:
        """The settings as recorded in ``sweep_summary.json``."""
        return {"partition": self.partition, "time": format_time(self.time_min),
                "cpus_per_run": self.cpus_per_run, "mem": self.mem,
                "gpus_per_run": self.gpus_per_run, "max_running": self.max_running,
                "sbatch": dict(self.sbatch)}


#: Keys of a ``--slurm-config`` file.
CONFIG_KEYS: tuple[str, ...] = ("partition", "time", "cpus_per_run", "mem", "gpus_per_run",
                                "max_running", "poll_seconds", "sbatch")


def read_config(path: str | Path) -> dict[str, Any]:
    """The settings of a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) file, keys normalised
    (``cpus-per-run`` -> ``cpus_per_run``); ``ValueError`` for an unreadable or unknown file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--slurm-config {path}: no such file")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise ValueError(f"--slurm-config {path}: TOML needs Python 3.11 or later; "
                                 "write the settings as YAML (.yaml) instead") from None
            data = tomllib.loads(text)
        else:
            raise ValueError(f"--slurm-config {path}: use a .yaml, .yml or .toml file")
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - a syntax error of either format
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"--slurm-config {path}: cannot read it ({first})") from None
    if not isinstance(data, dict):  # a user's file: a bad value, not a programming error
        message = (f"--slurm-config {path}: expected settings such as 'partition: cpu', one per "
                   f"line (valid: {', '.join(CONFIG_KEYS)})")
        raise ValueError(message)  # noqa: TRY004
    out = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(out) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"--slurm-config {path}: unknown setting(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(CONFIG_KEYS)}")
    if "sbatch" in out and not isinstance(out["sbatch"], dict):
        raise ValueError(f"--slurm-config {path}: 'sbatch' must be a table of options, "
                         "e.g. sbatch: {account: my-lab}")
    return out
