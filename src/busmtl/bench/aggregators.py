"""Where a gradient-balancing step's time goes: each torchjd aggregator timed alone, on a Jacobian
of the shape training hands it, beside one training step of EW in the same process.

Usage: ``busmtl bench aggregators`` or ``python -m busmtl.bench.aggregators [--image-size 96
--batch-size 16 --encoder resnet18 --calls 3 --repeats 2 --threads 1 --out FILE]``.

A gradient-balancing step (:mod:`busmtl.weighting.jacobian`) costs one EW step, plus a backward
pass per extra task, plus the aggregation ``d = A(J)`` of the ``K x n`` Jacobian ``J``. The
first two are the same for every method; the third is what sets the methods apart. This
benchmark times the third directly:

* ``J`` is a real Jacobian of the training's shape: the gradients of the two task losses with
  respect to the shared parameters of SSC-ResNet (``--jacobian parameters``) or to its shared
  representation (``representation``), taken at ``calls + 1`` consecutive EW training steps on
  a fixed random batch, so that every call meets another matrix, as every training step does
  (a solver warm-started from its last answer, Nash-MTL's, stops at once when it meets the same
  matrix again: on one fixed matrix it would look cheaper than in training);
* each method's aggregator is the one its weighter builds (:meth:`JacobianWeighter.make_aggregator`,
  with the registered defaults), called ``calls`` times after one untimed call;
* one EW training step (forward, both losses, backward, Adam) on a random batch is timed the
  same way in the same process, so that every aggregation time is also given as a multiple of an
  EW step: a method whose aggregation alone takes ``a`` EW steps cannot cost less than ``1 + a``
  times EW per step over the parameters (plus its extra backward pass).

Rounds are interleaved (EW, every method, EW, ...) and pooled, as in :mod:`busmtl.bench.weighting`;
times are this process's CPU time (``time.process_time``). The gradients of a random network on
a random batch are not those of a network trained on BUSI, so the solvers' iteration counts
(MGDA's Frank-Wolfe, Nash-MTL's and CAGrad's convex programs) can still differ from a real run's;
the cost of reading and combining an ``n``-long matrix, which dominates at these sizes, does not.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from busmtl.bench.options import add_network_options, check_counts, environment

#: The Jacobians an aggregation can be timed on.
JACOBIANS: tuple[str, ...] = ("parameters", "representation")


def gradient_methods() -> list[str]:
    """The registered weighters that aggregate a Jacobian (the gradient-balancing family)."""
    from busmtl.weighting import FAMILIES

    return [m for m, family in FAMILIES.items() if family.startswith("gradient balancing")]


def ew_setup(encoder: str, image_size: int, batch_size: int, seed: int = 0) -> tuple[Any, ...]:
    """SSC-ResNet, EW, Adam and a fixed random batch (fp32, CPU), seeded: what an EW training
    step needs."""
    import torch

    from busmtl.models import SSCResNet
    from busmtl.training.step import Batch
    from busmtl.weighting import get_weighter

    torch.manual_seed(seed)
    model = SSCResNet(encoder=encoder).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = Batch(torch.randn(batch_size, 3, image_size, image_size),
                  (torch.rand(batch_size, 1, image_size, image_size) > 0.8).float(),
                  torch.randint(0, 2, (batch_size,)))
    return model, get_weighter("ew", 2), optimizer, batch


def ew_step(encoder: str, image_size: int, batch_size: int, seed: int = 0) -> Callable[[], None]:
    """One EW training step of SSC-ResNet on a fixed random batch (fp32), as a callable."""
    import torch

    from busmtl.training.step import network_losses, train_step

    model, weighter, optimizer, batch = ew_setup(encoder, image_size, batch_size, seed)
    dev = torch.device("cpu")

    def step() -> None:
        train_step(model, weighter, optimizer, lambda: network_losses(model, batch, dev, "fp32"),
                   where="ew, aggregation benchmark")

    return step


def training_jacobians(encoder: str, image_size: int, batch_size: int, steps: int,
                       jacobians: list[str], seed: int = 0) -> dict[str, list[Any]]:
    """The ``2 x n`` Jacobians of ``steps`` consecutive EW training steps (each taken before the
    step's update): row ``k`` is the gradient of task ``k``'s loss with respect to the shared
    parameters (``parameters``) or the shared representation (``representation``), zero where
    the task does not reach it."""
    import torch

    from busmtl.training.step import network_losses, train_step
    from busmtl.weighting.base import unique_parameters
    from busmtl.weighting.jacobian import jacobian_row

    model, weighter, optimizer, batch = ew_setup(encoder, image_size, batch_size, seed)
    dev = torch.device("cpu")
    shared = unique_parameters(model.shared_parameters())
    out: dict[str, list[Any]] = {j: [] for j in jacobians}
    for _ in range(steps):
        terms = network_losses(model, batch, dev, "fp32").terms
        for jacobian in jacobians:
            inputs = shared if jacobian == "parameters" else list(model.shared_representation())
            rows = []
            for term in terms:
                grads = torch.autograd.grad(term, inputs, retain_graph=True, allow_unused=True)
                rows.append(jacobian_row(grads, inputs))
            out[jacobian].append(torch.stack(rows))
        train_step(model, weighter, optimizer, lambda: network_losses(model, batch, dev, "fp32"),
                   where="ew, the aggregation benchmark's Jacobians")
    return out


def cpu_ms(call: Callable[[], Any], calls: int) -> list[float]:
    """CPU time in ms of ``calls`` calls of ``call``, after one untimed call."""
    call()
    out = []
    for _ in range(calls):
        start = time.process_time()
        call()
        out.append(1000.0 * (time.process_time() - start))
    return out


def measure(methods: list[str], matrices: dict[str, list[Any]], step: Callable[[], None],
            calls: int, repeats: int) -> dict[str, Any]:
    """Interleaved rounds of EW's step and every (method, jacobian) aggregation, each call on
    the next of that Jacobian's ``matrices`` (in turn); returns ``{"ew_step_ms": [...], "rows":
    [{method, jacobian, columns, ms: [...]}, ...]}`` with each round's times concatenated."""
    from busmtl.weighting import get_weighter

    aggregators = {(m, j): get_weighter(m, 2, jacobian=j).aggregator
                   for m in methods for j in matrices}
    turns = {key: itertools.cycle(matrices[key[1]]) for key in aggregators}
    times: dict[Any, list[float]] = {"ew": [], **{key: [] for key in aggregators}}
    for _ in range(repeats):
        times["ew"] += cpu_ms(step, calls)
        for key, aggregator in aggregators.items():
            print(f"  {key[0]} ({key[1]})", file=sys.stderr, flush=True)
            times[key] += cpu_ms(lambda a=aggregator, t=turns[key]: a(next(t)), calls)
    rows = [{"method": m, "jacobian": j, "columns": int(matrices[j][0].shape[1]),
             "ms": times[(m, j)]} for (m, j) in aggregators]
    return {"ew_step_ms": times["ew"], "rows": rows}


def summarise(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row with its median aggregation time ``median_ms`` and ``in_ew_steps`` (that median
    over the median EW step's), sorted by jacobian then time."""
    ew = statistics.median(result["ew_step_ms"])
    rows = [dict(r, median_ms=statistics.median(r["ms"]),
                 in_ew_steps=statistics.median(r["ms"]) / ew) for r in result["rows"]]
    return sorted(rows, key=lambda r: (JACOBIANS.index(r["jacobian"]), r["median_ms"]))


def format_table(rows: list[dict[str, Any]], ew_ms: float) -> str:
    """A plain-text table: method, Jacobian, its columns, median ms and the multiple of an EW
    step."""
    head = f"{'method':<14} {'jacobian':<15} {'columns':>11} {'median ms':>10} {'x EW step':>10}"
    ew_row = f"{'ew step':<14} {'-':<15} {'-':>11} {ew_ms:>10.1f} {1.0:>10.2f}"
    lines = [head, "-" * len(head), ew_row]
    lines += [f"{r['method']:<14} {r['jacobian']:<15} {r['columns']:>11,} {r['median_ms']:>10.1f} "
              f"{r['in_ew_steps']:>10.2f}" for r in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """``busmtl bench aggregators``: time every aggregation, print the table, write the JSON."""
    import torch

    from busmtl.io import write_json

    every = gradient_methods()
    methods = every if args.methods == "all" else [m.strip() for m in args.methods.split(",")
                                                   if m.strip()]
    unknown = sorted(set(methods) - set(every))
    if unknown:
        raise ValueError(f"not a gradient-balancing method: {', '.join(unknown)}; valid: "
                         f"{', '.join(every)}")
    check_counts(args, "image_size", "batch_size", "calls", "repeats")
    if args.threads:
        torch.set_num_threads(args.threads)
    jacobians = list(JACOBIANS) if args.jacobian == "both" else [args.jacobian]
    matrices = training_jacobians(args.encoder, args.image_size, args.batch_size,
                                  args.calls + 1, jacobians, args.seed)
    sizes = {j: int(m[0].shape[1]) for j, m in matrices.items()}
    step = ew_step(args.encoder, args.image_size, args.batch_size, args.seed)
    result = measure(methods, matrices, step, args.calls, args.repeats)
    rows = summarise(result)
    ew_ms = statistics.median(result["ew_step_ms"])
    settings = {k: getattr(args, k) for k in ("methods", "image_size", "batch_size", "encoder",
                                               "calls", "repeats", "threads", "jacobian", "seed")}
    title = (f"torchjd aggregations on the 2 x n Jacobians of {args.calls + 1} EW training steps "
             f"of SSC-ResNet ({args.encoder}) on a random batch, "
             f"batch {args.batch_size}, {args.image_size}x{args.image_size}, {args.calls} calls x "
             f"{args.repeats} round(s), {torch.get_num_threads()} thread(s), CPU time")
    print(title)
    print(format_table(rows, ew_ms))
    write_json(args.out, {"title": title, "settings": settings, "sizes": sizes,
                          "environment": environment(), "ew_step_ms": result["ew_step_ms"],
                          "ew_step_ms_median": ew_ms, "rows": rows})
    print(f"written: {args.out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options (shared by ``busmtl bench aggregators`` and ``python -m``)."""
    add_network_options(p, image_size=96, batch_size=16, encoder="resnet18")
    p.add_argument("--calls", type=int, default=3, help="timed calls per round (default 3)")
    p.add_argument("--repeats", type=int, default=2, help="interleaved rounds (default 2)")
    p.add_argument("--methods", default="all",
                   help="comma-separated gradient-balancing methods or 'all' (default)")
    p.add_argument("--jacobian", default="both", choices=(*JACOBIANS, "both"),
                   help="the Jacobian's shape: shared parameters, representation or both")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's default)")
    p.add_argument("--seed", type=int, default=0, help="seed of the network, batch and matrix")
    p.add_argument("--out", default="bench/aggregators.json", help="JSON file to write")


def main(argv: list[str] | None = None) -> int:
    """``python -m busmtl.bench.aggregators``."""
    p = argparse.ArgumentParser(prog="python -m busmtl.bench.aggregators",
                                description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except ValueError as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
