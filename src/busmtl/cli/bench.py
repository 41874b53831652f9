"""``busmtl bench weighting``: the weighting-overhead benchmark (see :mod:`busmtl.bench.weighting`);
``busmtl bench models``: parameters and step times of the two networks (:mod:`busmtl.bench.models`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from busmtl.bench import models, weighting

    bench = subparsers.add_parser("bench", help="benchmarks (ratios measured in one run)")
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    p = sub.add_parser("weighting", help="step time and peak memory of every weighter vs ew")
    weighting.add_arguments(p)
    p.set_defaults(func=weighting.run)
    p = sub.add_parser("models", help="parameters and CPU step time of both networks and the "
                       "interaction network's ablation variants, as ratios to ssc_resnet")
    models.add_arguments(p)
    p.set_defaults(func=models.run)
