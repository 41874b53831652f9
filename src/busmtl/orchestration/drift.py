"""The committed runs and the two checks that they still are what the code produces.

The book's numbers come from runs committed under ``book/runs/<profile>/``: hours of CPU
training that ``busmtl book`` never repeats. Two checks decide whether they are still current:

* **settings** (:func:`settings_drift`, no training): every committed run's recorded settings
  against what its profile gives today. A profile edit (a learning rate, a batch size, an
  augmentation mode) names every run it makes stale.
* **training** (:func:`check_drift`): a few committed runs are re-trained for their first
  epochs, on the same data and at the recorded threads, precision and CPU instruction-set
  level, and their per-epoch training losses and weights are compared with the committed
  ``history.csv`` (relative :data:`DRIFT_RTOL`). A change of the code or of a library constant
  (a weighter's constant, an augmentation's magnitude) shows here.

Training is deterministic at a fixed torch version, thread count, precision, instruction-set
level and CPU vendor (:func:`busmtl.training.isa.platform_key`), and nothing in an epoch depends
on the epoch cap. The training check therefore runs in a fresh process started with the
recorded level (``python -m busmtl.orchestration.drift``): on an AVX-512 host the AVX2 runs are re-trained
at AVX2.

**Platforms.** Pinning the level makes AMD hosts with and without AVX-512 agree bit for bit,
but an Intel host at the same level takes other code paths in MKL and oneDNN (measured: no
combination of ``MKL_ENABLE_INSTRUCTIONS``/``MKL_CBWR`` reproduces an AMD run on an Intel
Xeon). A run is therefore compared with its own history on machines of its platform
(``<vendor>-<level>``), and on a machine of another platform with a *fingerprint*: the first
epochs of the same run re-trained on that platform by the code that made the run (or code shown
to train identically there), kept in :data:`FINGERPRINTS`. ``python -m busmtl.orchestration.drift record``
writes them. A platform with neither is skipped with that reason.

DWA and ATDWA apply equal weights until two epochs have been recorded, so a check of them needs
three epochs to exercise their weighting; GradNorm updates its weights from the first step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from busmtl.runs import layout, marker
from busmtl.settings import repo_root
from busmtl.training import isa

#: History columns compared by the training check.
DRIFT_COLUMNS: tuple[str, ...] = ("train_loss_seg", "train_loss_cls", "w_seg", "w_cls")
#: Relative tolerance of the training check.
DRIFT_RTOL: float = 1e-6
#: Committed runs the training check re-trains (``<profile>/<method>/<run>``) and the epochs
#: each needs: every committed profile, the weighters EW, DWA, ATDWA, GradNorm and DMF-var, and
#: a gradient method through torchjd's aggregators (UPGrad, its Jacobian over the parameters).
DRIFT_RUNS: dict[str, int] = {
    "busi-cpu/atdwa/fold0": 3,
    "busi-cpu/dwa/fold1": 3,
    "busi-cpu/gradnorm/fold0": 2,
    "busi-cpu/ew/fold2": 1,
    "busi-cpu/dmf_var/fold0": 2,
    "busi-cpu-interaction/atdwa/fold0": 1,
    "busi-cpu-cbdice/dmf_var/fold0": 2,
    "busi-cpu-grouped/ew/fold0": 1,
    "busi-cpu-benchmark/upgrad/fold0": 1,
}
#: Histories of committed runs re-trained on other platforms than the one that made them.
FINGERPRINTS: str = "book/runs/drift-fingerprints.json"
#: Recorded settings that say where or how a run was executed, not what it computed: left out
#: of the settings check (the data are checked by their identity instead).
EXECUTION_SETTINGS: frozenset[str] = frozenset(
    {"data_dir", "splits", "progress", "run_hash", "save_model", "device", "num_threads"})


def runs_root(root: Path | None = None) -> Path:
    """``book/runs`` of the repository (or of ``root``)."""
    return (root or repo_root()) / "book" / "runs"


def committed_runs(root: Path | None = None) -> dict[str, Path]:
    """Every finished run under ``book/runs`` (``<profile>/<method>/<run>`` -> folder)."""
    base = runs_root(root)
    found: dict[str, Path] = {}
    for profile in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        for key, folder in layout.finished_runs(profile).items():
            found[f"{profile.name}/{key.label}"] = folder
    return found


def read_config(run: Path) -> dict[str, Any]:
    return json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# the settings check
# --------------------------------------------------------------------------------------------
def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def settings_differences(run: Path) -> dict[str, tuple[Any, Any]]:
    """``{setting: (recorded, today)}`` for one run: its ``config.json`` against the settings its
    profile gives today for the same method, fold and seed. A setting the run predates is read
    as :class:`~busmtl.config.TrainConfig`'s default (what the code did before it existed)."""
    import dataclasses

    from busmtl.config import PROFILES, TrainConfig, make_config
    from busmtl.training.trainer import weighter_settings

    recorded = read_config(run)["config"]
    profile = recorded.get("profile")
    if profile not in PROFILES:
        return {"profile": (profile, f"none of {', '.join(PROFILES)}")}
    defaults = TrainConfig().to_dict()
    today = make_config(profile, method=recorded["method"], fold=int(recorded["fold"]),
                        seed=int(recorded.get("seed", 0)))
    planned = today.to_dict()
    planned["weighter"] = weighter_settings(today)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return {
        key: (recorded.get(key, defaults[key]), value)
        for key, value in planned.items()
        if key in fields and key not in EXECUTION_SETTINGS
        and _canonical(recorded.get(key, defaults[key])) != _canonical(value)
    }


def settings_drift(root: Path | None = None) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Every committed run whose profile changed since, with its differing settings."""
    out = {}
    for name, folder in committed_runs(root).items():
        diff = settings_differences(folder)
        if diff:
            out[name] = diff
    return out


def format_settings_drift(drift: dict[str, dict[str, tuple[Any, Any]]]) -> str:
    """What changed, per profile, and the command that re-makes the stale runs."""
    by_profile: dict[str, list[str]] = {}
    for name in drift:
        by_profile.setdefault(name.split("/")[0], []).append(name)
    lines = [(f"{len(drift)} committed run(s) were made with settings their profile no longer "
             "gives; re-run them (or revert the profile edit):")]
    for profile, names in sorted(by_profile.items()):
        changes = sorted({f"{k}: {a!r} -> {b!r}" for n in names for k, (a, b) in drift[n].items()})
        methods = sorted({n.split("/")[1] for n in names})
        lines.append(f"  {profile}: {len(names)} runs ({', '.join(names[:4])}"
                     f"{', ...' if len(names) > 4 else ''}); {'; '.join(changes)}")
        lines.append(f"    busmtl sweep --profile {profile} --methods {','.join(methods)} "
                     "--data-dir /path/to/BUSI --retrain-committed")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the training check
# --------------------------------------------------------------------------------------------
@dataclass
class DriftReport:
    """Result of re-training one committed run for ``epochs`` epochs."""

    run: Path
    epochs: int
    max_relative_difference: float
    committed: pd.DataFrame
    retrained: pd.DataFrame
    recorded_torch: str | None = None
    torch_now: str | None = None

    @property
    def ok(self) -> bool:
        return self.max_relative_difference <= DRIFT_RTOL

    def message(self) -> str:
        """What differs, the likely cause, and what to re-run."""
        profile = self.run.parent.parent.name
        cause = ""
        if self.recorded_torch and self.torch_now and self.recorded_torch != self.torch_now:
            cause = (f"\nLikely cause: the run was made with torch {self.recorded_torch}, this "
                     f"environment has torch {self.torch_now}; install the locked versions "
                     "(`make install`, requirements.lock) and check again.")
        return (
            f"the code no longer reproduces the committed run {profile}/{self.run.parent.name}/"
            f"{self.run.name}: over the first {self.epochs} epochs the training losses/weights "
            f"differ by up to {self.max_relative_difference:.3g} (relative; tolerance "
            f"{DRIFT_RTOL:g}).{cause}\ncommitted:\n{self.committed.to_string()}\nre-trained:\n"
            f"{self.retrained.to_string()}\nThe committed runs of {profile} were made with the "
            f"old code: re-run them (`busmtl sweep --profile {profile} --data-dir /path/to/BUSI "
            "--retrain-committed`) and commit them, or revert the change if it was not meant to "
            "alter results."
        )


def run_platform(run: Path) -> str:
    """The platform (``<vendor>-<level>``) a run was made on, from its provenance."""
    run_config = read_config(run)
    level = run_config["config"].get("cpu_isa", "native")
    prov = run_config.get("provenance", {})
    if level == "native":
        level = prov.get("host_isa", "unknown")
    return f"{prov.get('cpu_vendor', 'unknown')}-{level}"


def read_fingerprints(root: Path | None = None) -> dict[str, Any]:
    path = (root or repo_root()) / FINGERPRINTS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def expected_history(name: str, run: Path, epochs: int,
                     root: Path | None = None) -> tuple[pd.DataFrame | None, str]:
    """What re-training ``run`` (``<profile>/<method>/<run>``) for ``epochs`` epochs must give on
    this machine: its own history on its platform, else the fingerprint of this platform;
    ``(None, why)`` when neither exists."""
    level = read_config(run)["config"].get("cpu_isa", "native")
    here, made_on = isa.platform_key(level), run_platform(run)
    if here == made_on:
        return pd.read_csv(Path(run) / "history.csv")[list(DRIFT_COLUMNS)].iloc[:epochs], made_on
    record = read_fingerprints(root).get(here, {}).get(name)
    if record is None or int(record["epochs"]) < epochs:
        return None, (f"{name} was made on a {made_on} machine and no fingerprint of it exists "
                      f"for this {here} machine: record one with `python -m busmtl.orchestration.drift "
                      "record` at the commit that made the runs (see busmtl.orchestration.drift)")
    table = pd.DataFrame(record["history"], columns=list(DRIFT_COLUMNS)).iloc[:epochs]
    return table, f"fingerprint {here} ({record.get('made_with', 'unknown commit')})"


def prepare_like(run: Path, busi_dir: Path, workdir: Path) -> Path:
    """BUSI prepared and split as the run's data were, checked by their identity."""
    from busmtl.data.errors import DataError
    from busmtl.data.prepare import dataset_identity, prepare_dataset
    from busmtl.data.splits import make_splits, split_file

    run_config = read_config(run)
    cfg = run_config["config"]
    size = int(cfg["prepare_size"])
    group = cfg.get("split_group", "none")
    prepared = Path(workdir) / f"prepared-{size}"
    if not (prepared / "index.csv").is_file():
        prepare_dataset(busi_dir, prepared, size=size, progress=False)
    if not (prepared / split_file(group)).is_file():
        make_splits(prepared, seed=0, group=group)
    if dataset_identity(prepared) != run_config["data_identity"]:
        raise DataError(
            f"{busi_dir} prepared at {size} px has identity {dataset_identity(prepared)}, but the "
            f"committed runs were made from data with identity {run_config['data_identity']}: "
            "point the check at the same BUSI copy (647 benign + malignant cases)"
        )
    return prepared


def retrain(run: Path, prepared: Path, out: Path, epochs: int) -> pd.DataFrame:
    """Re-train ``run`` for ``epochs`` epochs in *this* process (its level must already be
    pinned) with every recorded setting; return the new history."""
    from busmtl.config import FIELD_NAMES, make_config
    from busmtl.training.trainer import train

    recorded = read_config(run)["config"]
    skip = {"profile", "data_dir", "epochs", "save_model", "progress", "run_hash", "splits"}
    settings = {k: v for k, v in recorded.items() if k in FIELD_NAMES and k not in skip}
    cfg = make_config(recorded["profile"], **settings, data_dir=str(prepared), epochs=int(epochs),
                      save_model=False, progress=False)
    train(cfg, out)
    return pd.read_csv(Path(out) / "history.csv")


def can_retrain(run: Path) -> tuple[bool, str]:
    """Whether this machine can re-train ``run`` bit for bit, and why not."""
    run_config = read_config(run)
    level = run_config["config"].get("cpu_isa", "native")
    prov = run_config.get("provenance", {})
    if level == "native":
        return False, (f"{run} was made at the native level of its host ({prov.get('cpu')}), "
                       "which no other machine is known to reproduce")
    if not isa.host_supports(level):
        return False, (f"{run} was made at the {level} level, which this CPU ({isa.host_level()}) "
                       "cannot run")
    if prov.get("precision") == "bf16":
        return False, f"{run} used bf16, which the {level} level only emulates (20x slower)"
    return True, ""


def retrain_in_child(run: Path, prepared: Path, workdir: Path, epochs: int) -> Path:
    """Re-train ``run`` for ``epochs`` epochs in a fresh process at its recorded instruction-set
    level and threads; return the new run folder."""
    run = Path(run)
    run_config = read_config(run)
    level = run_config["config"].get("cpu_isa", "native")
    threads = str(int(run_config["provenance"].get("num_threads") or 1))
    out = Path(workdir) / f"{run.parent.parent.name}-{run.parent.name}-{run.name}"
    env = {**os.environ, **isa.env_for(level), "OMP_NUM_THREADS": threads,
           "MKL_NUM_THREADS": threads}
    done = subprocess.run(
        [sys.executable, "-m", "busmtl.orchestration.drift", str(run), str(prepared), str(out),
         str(int(epochs))], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"re-training {run} failed:\n{done.stderr[-3000:]}")
    return out


def check_drift(run: Path, prepared: Path, workdir: Path, epochs: int = 2,
                expected: pd.DataFrame | None = None) -> DriftReport:
    """Re-train committed run ``run`` for ``epochs`` epochs in a fresh process at its recorded
    level and threads, and compare with ``expected`` (default: its committed history)."""
    out = retrain_in_child(run, prepared, workdir, epochs)
    torch_now = read_config(out)["provenance"]["torch_version"]
    return compare(run, pd.read_csv(out / "history.csv"), epochs, torch_now, expected)


def compare(run: Path, retrained: pd.DataFrame, epochs: int, torch_now: str | None = None,
            expected: pd.DataFrame | None = None) -> DriftReport:
    """The first ``epochs`` rows of the committed history (or of ``expected``, a fingerprint)
    against a re-trained history."""
    committed = (pd.read_csv(Path(run) / "history.csv") if expected is None else expected)
    committed = committed[list(DRIFT_COLUMNS)].iloc[:epochs].reset_index(drop=True)
    retrained = retrained[list(DRIFT_COLUMNS)]
    a, b = committed.to_numpy(np.float64), retrained.to_numpy(np.float64)
    if a.shape != b.shape:
        difference = float("inf")
    else:
        difference = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))
    recorded = read_config(run).get("provenance", {}).get("torch_version")
    return DriftReport(Path(run), int(epochs), difference, committed, retrained, recorded,
                       torch_now)


def record(busi_dir: Path, workdir: Path, names: list[str] | None = None,
           root: Path | None = None, note: str | None = None) -> dict[str, Any]:
    """Re-train the runs of :data:`DRIFT_RUNS` (or ``names``) made on another platform and store
    their histories as this platform's fingerprints in :data:`FINGERPRINTS`.

    Only meaningful with the code that made the runs (check out their commit, or code whose
    histories equal that commit's on this platform): the fingerprint then says what that code
    gives here, and later code is checked against it."""
    from concurrent.futures import ThreadPoolExecutor

    from busmtl.io import write_json
    from busmtl.training.artifacts import git_commit

    root = root or repo_root()
    data = read_fingerprints(root)
    todo = {}
    for name in names or list(DRIFT_RUNS):
        run = runs_root(root) / name
        if not marker.exists(run):
            continue
        level = read_config(run)["config"].get("cpu_isa", "native")
        if isa.platform_key(level) == run_platform(run) or level == "native" \
                or not isa.host_supports(level):
            continue
        todo[name] = (run, prepare_like(run, busi_dir, workdir), DRIFT_RUNS.get(name, 2), level)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = {name: pool.submit(retrain_in_child, run, prepared, workdir, epochs)
                for name, (run, prepared, epochs, _) in todo.items()}
        for name, future in outs.items():
            out = future.result()
            history = pd.read_csv(out / "history.csv")[list(DRIFT_COLUMNS)]
            data.setdefault(isa.platform_key(todo[name][3]), {})[name] = {
                "epochs": len(history), "history": history.to_numpy().tolist(),
                "made_with": git_commit(), "note": note,
                "torch": read_config(out)["provenance"]["torch_version"]}
    write_json(root / FINGERPRINTS, data)
    return data


def main(argv: list[str] | None = None) -> int:
    """``python -m busmtl.orchestration.drift RUN PREPARED OUT EPOCHS``: the child process of
    :func:`check_drift` (its environment pins the level before torch is imported);
    ``python -m busmtl.orchestration.drift record --busi DIR``: :func:`record`."""
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["record"]:
        parser = argparse.ArgumentParser(prog="python -m busmtl.orchestration.drift record")
        parser.add_argument("--busi", type=Path, required=True, help="the BUSI copy")
        parser.add_argument("--workdir", type=Path, default=Path("/tmp/busmtl-fingerprints"))
        parser.add_argument("--runs", default=None, help="e.g. busi-cpu/ew/fold2 (default all)")
        parser.add_argument("--note", default=None, help="how the recording code was verified")
        args = parser.parse_args(args_in[1:])
        data = record(args.busi, args.workdir, args.runs.split(",") if args.runs else None,
                      note=args.note)
        print(f"fingerprints: {', '.join(f'{k}: {len(v)} runs' for k, v in data.items())}")
        return 0
    parser = argparse.ArgumentParser(prog="python -m busmtl.orchestration.drift")
    parser.add_argument("run", type=Path)
    parser.add_argument("prepared", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("epochs", type=int)
    args = parser.parse_args(args_in)
    retrain(args.run, args.prepared, args.out, args.epochs)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
