"""``busmtl evaluate``: score a trained run on another prepared dataset (see :mod:`busmtl.training.evaluate`)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a trained run (its model.pt) on another prepared dataset",
        description="Evaluate the best checkpoint of a run folder on every case of a prepared "
        "cache in the BUSI layout (an external test set such as BUS-BRA or BUSI-WHU) with the "
        "run's own metrics; write metrics.json, per_image.csv and predictions.npz.")
    p.add_argument("--run", required=True, help="run folder holding model.pt and config.json")
    p.add_argument("--data-dir", required=True, help="prepared cache (busmtl data prepare)")
    p.add_argument("--out", required=True, help="folder to write the scores to")
    p.add_argument("--device", default=None, help="auto, cpu, cuda (default: the run's)")
    p.add_argument("--num-threads", type=int, default=None, help="CPU threads (default: the run's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from busmtl.cli.arguments import check_device, check_out_folder
    from busmtl.training.evaluate import evaluate_run

    check_device(args.device)
    check_out_folder(args.out)

    metrics = evaluate_run(args.run, args.data_dir, args.out, device=args.device,
                           num_threads=args.num_threads)
    warning = metrics["training_overlap"]["warning"]
    if warning:
        print(warning, file=sys.stderr)
    test = metrics["test"]
    print(f"{metrics['cases']} cases: " + ", ".join(f"{k} {v:.3f}" for k, v in test.items()))
    print(f"scores: {args.out}")
    return 0
