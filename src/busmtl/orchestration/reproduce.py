"""The commands that re-make one run bit for bit, and a check that two runs agree.

The book prints these commands (chapter "Reproducing, extending, teaching") and the test suite
executes them (``tests/test_reproduce.py``), so what a reader copies is what was tested.

A run is reproduced bit for bit when it is trained with the same settings, **the same number of
CPU threads, the same precision and the same instruction-set level** (``cpu_isa``), on the same
kind of machine with the same library versions. The sweep fixes the threads (``--threads``,
default 1), resolves the precision (``auto`` becomes ``fp32`` or ``bf16`` depending on the CPU)
and pins the profile's ``cpu_isa`` before torch loads; a command made here states all three
explicitly, so it gives the sweep's numbers instead of the machine's defaults.

>>> from busmtl.orchestration.reproduce import planned_spec, commands
>>> spec = planned_spec("quick", "atdwa", 0)                      # doctest: +SKIP
>>> print(commands(spec, "runs/atdwa-fold0")["busmtl"])           # doctest: +SKIP
busmtl train --profile quick --method atdwa --fold 0 --num-threads 1 --precision fp32 --cpu-isa native --out runs/atdwa-fold0

``python -m busmtl.orchestration.reproduce RUN_A RUN_B`` compares two run folders (:func:`compare_runs`).
"""

from __future__ import annotations

import json
import posixpath
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from busmtl.config import make_config

#: Settings that never change a result (or are given another way): not part of a command.
NOT_RESULT: frozenset[str] = frozenset({"method", "fold", "profile", "data_dir", "splits",
                                        "progress", "run_hash", "save_model"})

#: ``busmtl train`` flags of the settings that have one (``--weighter-param`` is separate).
CLI_FLAGS: dict[str, str] = {
    "epochs": "--epochs", "image_size": "--image-size", "encoder": "--encoder",
    "batch_size": "--batch-size", "device": "--device", "seed": "--seed", "lr": "--lr",
    "augment": "--augment", "num_workers": "--num-workers", "num_threads": "--num-threads",
    "precision": "--precision", "dropout_scope": "--dropout-scope", "cpu_isa": "--cpu-isa",
}

#: Parameters of ``notebooks/train_fold.ipynb`` that papermill can set (``-p``).
NOTEBOOK_PARAMETERS: frozenset[str] = frozenset({"seed", "device", "epochs", "image_size",
                                                 "num_threads", "precision", "cpu_isa",
                                                 "split_group"})

#: ``metrics.json`` keys that must agree bit for bit (``efficiency`` holds times: it never does).
RESULT_KEYS: tuple[str, ...] = ("test", "val", "best_epoch", "epochs_run", "stopped_early")


@dataclass(frozen=True)
class RunSpec:
    """What identifies a run's result: profile, method, fold and every setting that differs
    from the profile's (threads, precision and instruction-set level always included)."""

    profile: str
    method: str
    fold: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_busi(self) -> bool:
        """True when the profile trains on BUSI (the command then needs ``BUSMTL_BUSI_DIR``)."""
        return make_config(self.profile, method=self.method).dataset == "busi"


def planned_spec(profile: str, method: str, fold: int, threads: int | None = None,
                 device: str | None = None) -> RunSpec:
    """The run a sweep of ``profile`` makes for ``method`` and ``fold`` on this machine: the
    sweep's threads (default :data:`busmtl.orchestration.sweep.DEFAULT_THREADS`), the precision that
    ``auto`` resolves to here and the profile's ``cpu_isa`` (which the sweep pins)."""
    from busmtl.orchestration.sweep import DEFAULT_THREADS
    from busmtl.training.step import resolve_precision
    from busmtl.training.trainer import resolve_device

    cfg = make_config(profile, method=method, fold=fold, device=device)
    settings: dict[str, Any] = {
        "num_threads": int(threads or DEFAULT_THREADS),
        "precision": resolve_precision(cfg.precision, resolve_device(cfg.device)),
        "cpu_isa": cfg.cpu_isa,
    }
    if device is not None:
        settings["device"] = device
    return RunSpec(profile, method, int(fold), settings)


def recorded_spec(run_dir: str | Path) -> RunSpec:
    """The spec of an existing run, read from its ``config.json``: every recorded setting that
    differs from its profile's default, plus its threads, precision and ``cpu_isa`` (runs
    recorded before the setting existed ran at ``native``)."""
    from busmtl.training.trainer import weighter_settings

    recorded = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))["config"]
    default = make_config(recorded["profile"], method=recorded["method"], fold=recorded["fold"])
    base = default.to_dict()
    base["weighter"] = weighter_settings(default)
    settings = {key: value for key, value in recorded.items()
                if key not in NOT_RESULT and key in base
                and json.dumps(value, sort_keys=True) != json.dumps(base[key], sort_keys=True)}
    settings["num_threads"] = recorded.get("num_threads")
    settings["precision"] = recorded.get("precision")
    settings["cpu_isa"] = recorded.get("cpu_isa", "native")
    if settings.get("weighter") is not None:
        # the trainer records GradNorm's learning rate even when it follows the network's
        extra = {k: v for k, v in settings["weighter"].items()
                 if base["weighter"].get(k) != v}
        settings["weighter"] = extra
        if not extra:
            del settings["weighter"]
    return RunSpec(recorded["profile"], recorded["method"], int(recorded["fold"]), settings)


def _quote(value: Any) -> str:
    return shlex.quote(value if isinstance(value, str) else json.dumps(value))


def _py(value: Any) -> str:
    """``value`` as Python source with double-quoted strings, so that the shell's single quotes
    around a ``python -c`` program need no escaping."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        items = ", ".join(_py(v) for v in value)
        return f"({items},)" if isinstance(value, tuple) and len(value) == 1 else (
            f"({items})" if isinstance(value, tuple) else f"[{items}]")
    return repr(value)


def commands(spec: RunSpec, out: str, data_dir: str | None = None) -> dict[str, str]:
    """The shell commands that train ``spec`` into the run folder ``out``.

    Keys: ``busmtl`` (``busmtl train``), ``papermill`` (the sweep's notebook, executed into
    ``<out>.ipynb``, creating its folder first) and ``python`` (the library, in one
    ``python -c``, pinning ``cpu_isa`` before torch loads); a key is left out when a setting of
    ``spec`` cannot be given that way. ``data_dir``: a prepared cache to train on
    instead of the profile's default data (phantoms, or BUSI from ``BUSMTL_BUSI_DIR``).
    """
    env = "BUSMTL_BUSI_DIR=/path/to/BUSI " if spec.needs_busi and data_dir is None else ""
    head = [("profile", spec.profile), ("method", spec.method), ("fold", spec.fold)]
    if data_dir is not None:
        head.append(("data_dir", data_dir))
    out_cmds: dict[str, str] = {}

    flags = [f"--{k.replace('_', '-')} {_quote(v)}" for k, v in head]
    cli_ok = True
    for key, value in spec.settings.items():
        if key == "weighter":
            flags += [f"--weighter-param {_quote(f'{k}={json.dumps(v)}')}" for k, v in value.items()]
        elif key == "channels_last":
            flags.append("--channels-last" if value else "--no-channels-last")
        elif key in CLI_FLAGS and value is not None:
            flags.append(f"{CLI_FLAGS[key]} {_quote(value)}")
        else:
            cli_ok = False
    if cli_ok:
        out_cmds["busmtl"] = f"{env}busmtl train " + " ".join(flags) + f" --out {_quote(out)}"

    if all(k in NOTEBOOK_PARAMETERS for k in spec.settings):
        params = head + [(k, v) for k, v in spec.settings.items()] + [("out_dir", out)]
        folder = posixpath.dirname(out)
        mkdir = f"mkdir -p {_quote(folder)} && " if folder else ""
        out_cmds["papermill"] = (f"{mkdir}{env}papermill notebooks/train_fold.ipynb "
                                 f"{_quote(out + '.ipynb')} "
                                 + " ".join(f"-p {k} {_quote(v)}" for k, v in params))

    kwargs = ", ".join(f"{k}={_py(v)}" for k, v in [*head[1:], *spec.settings.items()])
    isa_level = spec.settings.get("cpu_isa", "native")
    code = (f"from busmtl.training.isa import pin; pin({_py(isa_level)}); "
            f"from busmtl.config import make_config; from busmtl.training.trainer import train; "
            f"train(make_config({_py(spec.profile)}, {kwargs}), {_py(out)})")
    out_cmds["python"] = f"{env}python -c {shlex.quote(code)}"
    return out_cmds


def compare_runs(a: str | Path, b: str | Path) -> list[str]:
    """The differences between two run folders' results: ``metrics.json`` (every key but the
    timings of ``efficiency``) and the losses and weights of ``history.csv``; empty when they
    agree bit for bit."""
    a, b = Path(a), Path(b)
    diffs: list[str] = []
    ma = json.loads((a / "metrics.json").read_text(encoding="utf-8"))
    mb = json.loads((b / "metrics.json").read_text(encoding="utf-8"))
    for key in RESULT_KEYS:
        if ma.get(key) != mb.get(key):
            diffs.append(f"metrics.json {key}: {ma.get(key)} != {mb.get(key)}")
    ha, hb = pd.read_csv(a / "history.csv"), pd.read_csv(b / "history.csv")
    columns = [c for c in ha.columns if not c.endswith(("_time_s", "_ms_max", "_ms_median"))]
    if list(ha.columns) != list(hb.columns) or len(ha) != len(hb):
        diffs.append("history.csv: different columns or epochs")
    elif not ha[columns].equals(hb[columns]):
        bad = [c for c in columns if not ha[c].equals(hb[c])]
        diffs.append(f"history.csv differs in {', '.join(bad)}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    """``python -m busmtl.orchestration.reproduce RUN_A RUN_B``: exit 0 when the runs agree bit for bit."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m busmtl.orchestration.reproduce RUN_A RUN_B", file=sys.stderr)
        return 2
    diffs = compare_runs(*args)
    print("\n".join(diffs) if diffs else "identical: metrics.json and history.csv agree bit for bit")
    return 1 if diffs else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
