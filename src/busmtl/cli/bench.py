"""``busmtl bench weighting``: the weighting-overhead benchmark (see :mod:`busmtl.bench.weighting`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from busmtl.bench import weighting

    bench = subparsers.add_parser("bench", help="benchmarks (ratios measured in one run)")
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    p = sub.add_parser("weighting", help="step time and peak memory of every weighter vs ew")
    weighting.add_arguments(p)
    p.set_defaults(func=weighting.run)
