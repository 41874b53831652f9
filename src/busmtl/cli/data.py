"""``busmtl data``: ``check``, ``prepare``, ``phantoms``, ``split`` and ``preview``.

Every sub-command reports a bad input (missing folder, orphan mask, corrupt PNG, split made for
another dataset, ...) as one line naming the file or value, and writes nothing partial: outputs
are written to a temporary name and renamed (:mod:`busmtl.io`). ``prepare`` and ``phantoms``
replace an existing ``--out`` only when it is their own earlier output or with ``--force``, and
never the source (:mod:`busmtl.data.outputs`).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from busmtl.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="check, prepare, generate and split datasets")
    sub = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="validate a raw dataset in the BUSI layout and print counts")
    p.add_argument("--data-dir", required=True, help="folder with benign/ and malignant/")
    p.add_argument("--include-normal", action="store_true", help="also count normal/ images")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--duplicate-threshold", type=float, default=None, metavar="R",
                   help="32x32 thumbnail correlation at which two images count as the same frame "
                   "(default 0.95)")
    p.set_defaults(func=run_check)

    p = sub.add_parser("prepare", help="resize a raw dataset (folder or .zip) into a fast cache")
    p.add_argument("--source", required=True, help="BUSI folder or the downloaded .zip")
    p.add_argument("--out", required=True, help="cache folder to write")
    p.add_argument("--size", type=int, default=256, help="square side in pixels (default 256)")
    p.add_argument("--include-normal", action="store_true",
                   help="keep normal/ as a third class with empty masks")
    p.add_argument("--force", action="store_true",
                   help="replace --out even when it is not an earlier prepared cache")
    p.set_defaults(func=run_prepare)

    p = sub.add_parser("phantoms", help="generate synthetic ultrasound phantoms in BUSI layout")
    p.add_argument("--out", required=True, help="folder to write (benign/, malignant/)")
    p.add_argument("--n", type=int, default=240, help="number of images (default 240)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("--force", action="store_true",
                   help="replace --out even when it is not an earlier phantom folder")
    p.set_defaults(func=run_phantoms)

    p = sub.add_parser("split", help="stratified held-out test set + k stratified folds")
    p.add_argument("--data-dir", required=True, help="prepared cache (busmtl data prepare)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--group", choices=("none", "duplicates"), default="none",
                   help="duplicates: keep near-duplicate clusters on one side of every boundary "
                   "and leave out images filed under both classes (splits-grouped.json)")
    p.add_argument("--out", default=None,
                   help="where to write (default <data-dir>/splits.json, or splits-grouped.json)")
    p.set_defaults(func=run_split)

    p = sub.add_parser("preview", help="PNG grid of example images with mask outlines")
    p.add_argument("--data-dir", required=True, help="raw dataset in the BUSI layout")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--per-class", type=int, default=6)
    p.set_defaults(func=run_preview)


def _existing_dir(path: str, option: str) -> Path:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UserError(f"{option} {folder}: no such folder; give the folder that holds the data")
    return folder


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        print(f"warning: {w.message}")


def run_check(args: argparse.Namespace) -> int:
    from busmtl.data.busi import check_dataset, format_check

    root = _existing_dir(args.data_dir, "--data-dir")
    report = check_dataset(root, include_normal=args.include_normal,
                           duplicate_threshold=args.duplicate_threshold)
    print(json.dumps(report, indent=2) if args.json else format_check(report))
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from busmtl.data.prepare import prepare_dataset

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = prepare_dataset(args.source, args.out, size=args.size,
                              include_normal=args.include_normal, force=args.force)
    _print_warnings(caught)
    print(f"prepared cache: {out} ({args.size} px, {time.perf_counter() - start:.1f} s)")
    return 0


def run_phantoms(args: argparse.Namespace) -> int:
    from busmtl.data.phantoms import generate_phantoms

    start = time.perf_counter()
    out = generate_phantoms(args.out, n=args.n, seed=args.seed, size=args.size, force=args.force)
    print(f"{args.n} phantoms (seed {args.seed}, {args.size} px) in {out} "
          f"({time.perf_counter() - start:.1f} s)")
    return 0


def run_split(args: argparse.Namespace) -> int:
    from busmtl.data.splits import load_splits, make_splits

    data_dir = _existing_dir(args.data_dir, "--data-dir")
    path = make_splits(data_dir, seed=args.seed, test_fraction=args.test_fraction,
                       folds=args.folds, out=args.out, group=args.group)
    splits = load_splits(path, data_dir)
    sizes = ", ".join(f"fold {i}: {len(f.train)} train / {len(f.val)} val"
                      for i, f in enumerate(splits.folds))
    excluded = (f"\n  left out (filed under both classes): {len(splits.excluded)}"
                if splits.group == "duplicates" else "")
    print(f"splits: {path}\n  test: {len(splits.test)}\n  {sizes}{excluded}")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from busmtl.data.phantoms import save_preview

    root = _existing_dir(args.data_dir, "--data-dir")
    print(f"preview: {save_preview(root, args.out, per_class=args.per_class)}")
    return 0
