"""``busmtl bench weighting``: the weighting-overhead benchmark (see :mod:`busmtl.bench.weighting`);
``busmtl bench models``: parameters and step times of the two networks (:mod:`busmtl.bench.models`);
``busmtl bench aggregators``: the aggregation of every gradient-balancing method alone
(:mod:`busmtl.bench.aggregators`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from busmtl.bench import aggregators, models, weighting

    bench = subparsers.add_parser("bench", help="benchmarks (ratios measured in one run)")
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    p = sub.add_parser("weighting", help="step time and peak memory of every weighter vs ew")
    weighting.add_arguments(p)
    p.set_defaults(func=weighting.run)
    p = sub.add_parser("models", help="parameters and CPU step time of both networks and the "
                       "interaction network's ablation variants, as ratios to ssc_resnet")
    models.add_arguments(p)
    p.set_defaults(func=models.run)
    p = sub.add_parser("aggregators", help="CPU time of every gradient-balancing method's "
                       "aggregation alone, as a multiple of an EW training step")
    aggregators.add_arguments(p)
    p.set_defaults(func=aggregators.run)
