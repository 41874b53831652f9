"""The executor options shared by ``busmtl sweep`` and ``busmtl book`` (see
:mod:`busmtl.orchestration.executors`): where the runs execute and with which resources."""

from __future__ import annotations

import argparse

from busmtl.errors import UserError
from busmtl.orchestration.executors import EXECUTORS, Executor

#: Flags that only the SLURM executor uses (argparse destination -> flag).
SLURM_FLAGS: dict[str, str] = {
    "partition": "--partition", "time": "--time", "cpus_per_run": "--cpus-per-run",
    "mem": "--mem", "gpus_per_run": "--gpus-per-run", "sbatch": "--sbatch",
    "slurm_config": "--slurm-config",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--jobs``, ``--executor``, the local executor's GPU flags and the SLURM flags."""
    parser.add_argument("--executor", default="local", choices=EXECUTORS,
                        help="local: worker processes on this machine (default); slurm: one "
                        "SLURM job array through submitit")
    parser.add_argument("--jobs", type=int, default=None,
                        help="local: notebooks executed at once (default: the number of cores, "
                        "at most 4); slurm: array tasks running at once (default: no limit)")
    gpus = parser.add_argument_group("GPUs of this machine (--executor local)")
    gpus.add_argument("--devices", default=None,
                      help="GPUs to place runs on: cuda:0,cuda:1,... or all (default: every "
                      "visible GPU when --device is auto or cuda)")
    gpus.add_argument("--runs-per-device", type=int, default=None,
                      help="runs sharing one GPU at once (default 1)")
    slurm = parser.add_argument_group("SLURM (--executor slurm)")
    slurm.add_argument("--partition", default=None, help="partition (default: the cluster's)")
    slurm.add_argument("--time", default=None,
                       help="time limit per run: minutes or H:MM:SS, D-HH:MM:SS (default 4:00:00)")
    slurm.add_argument("--cpus-per-run", default=None, help="CPUs per run (default: --threads)")
    slurm.add_argument("--mem", default=None, help="memory per run, e.g. 4G (default 4G)")
    slurm.add_argument("--gpus-per-run", default=None, help="GPUs per run (default 0)")
    slurm.add_argument("--sbatch", action="append", default=None, metavar="KEY=VALUE",
                       help="any other sbatch option, e.g. --sbatch account=my-lab (repeatable)")
    slurm.add_argument("--slurm-config", default=None, metavar="FILE",
                       help="the settings above in a YAML or TOML file (flags win)")


def build(args: argparse.Namespace) -> Executor:
    """The executor the parsed flags ask for; ``UserError`` for flags of the other executor."""
    from busmtl.orchestration.executors import make_executor

    if args.executor == "slurm":
        for dest, flag in (("devices", "--devices"), ("runs_per_device", "--runs-per-device")):
            if getattr(args, dest) is not None:
                raise UserError(f"{flag} places runs on this machine's GPUs (--executor local); "
                                "with --executor slurm ask for GPUs with --gpus-per-run")
        from busmtl.orchestration.executors.slurm import SlurmExecutor
        from busmtl.orchestration.executors.slurm_settings import SlurmSettings

        settings = SlurmSettings.from_sources(
            args.slurm_config, partition=args.partition, time=args.time,
            cpus_per_run=args.cpus_per_run, mem=args.mem, gpus_per_run=args.gpus_per_run,
            max_running=args.jobs, sbatch=args.sbatch)
        return SlurmExecutor(settings)
    given = [flag for dest, flag in SLURM_FLAGS.items() if getattr(args, dest) is not None]
    if given:
        raise UserError(f"{', '.join(given)} set(s) up SLURM jobs: add --executor slurm")
    from busmtl.orchestration.sweep import default_jobs

    per_device = 1 if args.runs_per_device is None else args.runs_per_device
    return make_executor("local", jobs=default_jobs() if args.jobs is None else args.jobs,
                         device=args.device, devices=args.devices, runs_per_device=per_device)
