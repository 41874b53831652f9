"""``busmtl book``: data, sweep (when the profile is not committed) and the Jupyter Book
(see :mod:`busmtl.publish.pipeline`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("book", help="data + sweep + aggregate + build the Jupyter Book",
                              description="Generate the data, run (resume) the sweep of a "
                              "profile and build the book into _build/html.")
    p.add_argument("--profile", default="busi-cpu",
                   help="busi-cpu (default: the committed reference runs, no training), quick, "
                   "smoke or paper")
    p.add_argument("--data-dir", default=None, help="BUSI folder or prepared cache (default: the profile's)")
    from busmtl.cli import executor_options
    from busmtl.orchestration.sweep import DEFAULT_THREADS

    executor_options.add_arguments(p)
    p.add_argument("--threads", type=int, default=None,
                   help=f"CPU threads of each run (default {DEFAULT_THREADS})")
    p.add_argument("--device", default=None, help="auto, cpu or cuda")
    p.add_argument("--methods", default=None, help="comma-separated or 'all' (default: the profile's)")
    p.add_argument("--folds", default=None, help="e.g. 0-4 (default: the profile's)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--runs-dir", default=None, help="default: book/runs")
    p.add_argument("--skip-sweep", action="store_true", help="build from the runs present")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from busmtl.cli import executor_options
    from busmtl.publish.pipeline import build_book

    build_book(args.profile, args.data_dir, args.jobs, args.device, args.methods, args.folds,
               args.epochs, args.runs_dir, args.skip_sweep, False if args.no_progress else None,
               threads=args.threads, executor=executor_options.build(args))
    return 0
