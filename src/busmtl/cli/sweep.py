"""``busmtl sweep``: run the training notebook for every method x fold (see :mod:`busmtl.orchestration.sweep`);
``busmtl sweep status``: how far a sweep has come (see :mod:`busmtl.orchestration.status`)."""

from __future__ import annotations

import argparse

from busmtl.cli import executor_options
from busmtl.config import PROFILES, parse_settings
from busmtl.orchestration.sweep import DEFAULT_THREADS, ORDERS, run_sweep


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sweep", help="run the notebook for every method x fold (papermill)",
                              description="Execute notebooks/train_fold.ipynb with papermill for every "
                              "method x fold of a profile, resuming finished runs, on this machine "
                              "or as a SLURM job array. `busmtl sweep status` shows done / running "
                              "/ failed / pending per method and fold.")
    p.add_argument("action", nargs="?", default="run", choices=("run", "status"),
                   help="run (default) or status")
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)}")
    p.add_argument("--methods", default=None, help="comma-separated, or 'all' (default: the profile's)")
    p.add_argument("--folds", default=None, help="e.g. 0-4 or 0,2 (default: the profile's)")
    p.add_argument("--data-dir", default=None, help="BUSI folder or prepared cache (default: the profile's)")
    p.add_argument("--threads", type=int, default=None,
                   help=f"CPU threads of each run (default {DEFAULT_THREADS}; part of the run's "
                   "identity, since CPU results depend on it)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=None, help="one training seed (see --seeds)")
    p.add_argument("--seeds", default=None,
                   help="training seeds, e.g. 0,1,2 or 0-2 (default: the profile's); each seed "
                   "varies initialisation, data order and augmentation")
    p.add_argument("--set", action="append", default=None, metavar="KEY=VALUE", dest="settings",
                   help="any training setting for every run, e.g. --set model=interaction "
                   "(repeatable; the run hash covers it)")
    p.add_argument("--order", default="fold", choices=ORDERS,
                   help="fold (default): every method of a fold before the next fold; method: "
                   "the methods one after the other, in the order of --methods")
    p.add_argument("--retrain-committed", action="store_true",
                   help="allow re-training runs committed to the repository (same data only)")
    p.add_argument("--runs-dir", default=None, help="default: book/runs")
    p.add_argument("--notebook", default=None, help="notebook to execute (default: notebooks/train_fold.ipynb)")
    p.add_argument("--no-progress", action="store_true")
    executor_options.add_arguments(p)
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    if args.action == "status":
        from busmtl.orchestration.status import format_status, sweep_status

        states, note = sweep_status(args.profile, args.runs_dir)
        print(format_status(args.profile, states, note))
        return 0
    summary = run_sweep(args.profile, args.methods, args.folds, args.data_dir, device=args.device,
                        runs_root=args.runs_dir, notebook=args.notebook, epochs=args.epochs,
                        image_size=args.image_size, seed=args.seed, threads=args.threads,
                        seeds=args.seeds, retrain_committed=args.retrain_committed,
                        settings=parse_settings(args.settings), order=args.order,
                        progress=False if args.no_progress else None,
                        executor=executor_options.build(args))
    return 1 if summary.failed else 0
