"""``busmtl sweep``: run the training notebook for every method x fold (see :mod:`busmtl.sweep`)."""

from __future__ import annotations

import argparse

from busmtl.config import PROFILES
from busmtl.sweep import DEFAULT_THREADS, default_jobs, run_sweep


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sweep", help="run the notebook for every method x fold (papermill)",
                              description="Execute notebooks/train_fold.ipynb with papermill for every "
                              "method x fold of a profile, resuming finished runs.")
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)}")
    p.add_argument("--methods", default=None, help="comma-separated, or 'all' (default: the profile's)")
    p.add_argument("--folds", default=None, help="e.g. 0-4 or 0,2 (default: the profile's)")
    p.add_argument("--data-dir", default=None, help="BUSI folder or prepared cache (default: the profile's)")
    p.add_argument("--jobs", type=int, default=default_jobs(),
                   help="notebooks executed at once (default: the number of cores, at most 4)")
    p.add_argument("--threads", type=int, default=None,
                   help=f"CPU threads of each run (default {DEFAULT_THREADS}; part of the run's "
                   "identity, since CPU results depend on it)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--runs-dir", default=None, help="default: book/runs")
    p.add_argument("--notebook", default=None, help="notebook to execute (default: notebooks/train_fold.ipynb)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    summary = run_sweep(args.profile, args.methods, args.folds, args.data_dir, args.jobs, args.device,
                        runs_root=args.runs_dir, notebook=args.notebook, epochs=args.epochs, image_size=args.image_size,
                        seed=args.seed, threads=args.threads,
                        progress=False if args.no_progress else None)
    return 1 if summary.failed else 0
