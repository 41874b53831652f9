"""Overhead of each loss weighter on SSC-ResNet: step time and peak memory, as ratios to ``ew``.

Usage: ``busmtl bench weighting`` or ``python -m busmtl.bench.weighting [--image-size 128
--batch-size 8 --encoder resnet34 --steps 10 --warmup 2 --methods all --repeats 1 --threads N
--out bench/weighting.json --device auto]``.

What is measured
----------------
A *step* is what the trainer does per batch, with the trainer's own code
(:func:`busmtl.training.step.train_step` with :func:`busmtl.training.step.network_losses`, in fp32): forward pass,
the two task losses, the weighter's ``backward`` (which runs the backward pass(es) it needs) and
``optimizer.step`` (Adam), on a fixed random batch. On CUDA the device is synchronised before
each clock read. For every method the benchmark reports the median and the longest of ``steps``
timed steps (after ``warmup`` untimed ones), and the peak memory:

* GPU: ``torch.cuda.max_memory_allocated`` over the whole measurement;
* CPU: the peak resident set size (``ru_maxrss``) of the process. Every method therefore runs in
  a fresh subprocess (``--single METHOD``, which prints one JSON line), so that its peak is its
  own. This peak includes the Python interpreter, torch and the model (a constant few hundred
  MiB), which dilutes the ratios; ``step_memory_mb`` (peak minus the resident/allocated memory
  just before the first step) isolates what the training steps add.

All methods use the same batch size (the paper trains GradNorm with batch 8 and the others with
16; here every method gets ``--batch-size``, 8 by default, so the ratios compare like with like).

Before timing, every weighter is brought to its steady state with synthetic losses, so that the
timed steps run the code path of a real training epoch and not a warm-up shortcut: three
``epoch_end`` calls (DWA/ATDWA have a loss history and compute softmax weights) and, for the DMF
methods, a full loss memory (``history`` losses through ``update``, so the weights are
recomputed from the memory at every timed step). GradNorm records its initial losses ``L(0)`` at
the first warm-up step, as in training.

With ``--repeats R`` the list of methods is run R times, interleaved (ew, dwa, ..., ew, dwa,
...), and the step times of all rounds are pooled: on a shared machine, slow periods then hit
every method alike. Only the ratios measured in one run are meant to be compared.

Targets (the overhead budget of each method; median-step CPU-time ratio and peak-memory ratio to
``ew``): dwa, atdwa, uw, dmf_* and the loss-only methods of torchjd <= 1.05x time; gradnorm
(last shared layer) <= 1.5x time and <= 1.25x memory; dbmtl <= 1.5x time; the gradient-balancing
methods <= 2.0x with the Jacobian over the shared parameters, <= 1.3x over the shared
representation. ``--jacobian both`` measures every gradient-balancing method both ways in the
same run. This process's CPU time (``time.process_time``) decides the verdict, because on a
shared machine the wall time also counts the time other processes held the core; the wall time
is reported beside it, each with the min-max of the per-round ratios. The CPU-time ratio is the
*paired* one: after its own steps, each method's process times ``steps`` more of them, each
right after a step of EW on a second copy of the network (:func:`paired_with_ew`), so a load
that changes while the processes follow one another (a sweep pausing, a test suite starting)
weighs on both sides of the ratio; the ratio of the separate processes' medians is kept in the
JSON as ``unpaired_cpu_time_ratio``. The primary paper
(Table III) reports GradNorm at 8.5x the memory and 7.2x the longest step of equal weighting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from busmtl.bench.options import add_network_options, check_counts, environment

#: Overhead budget: method -> {"time": max median-time ratio, "memory": max memory ratio}.
TARGETS: dict[str, dict[str, float]] = {
    "dwa": {"time": 1.05},
    "atdwa": {"time": 1.05},
    "uw": {"time": 1.05},
    "dmf_var": {"time": 1.05},
    "dmf_mad": {"time": 1.05},
    "dmf_bayes": {"time": 1.05},
    "gradnorm": {"time": 1.5, "memory": 1.25},
    "dbmtl": {"time": 1.5},
}
#: Overhead budgets of the method families (two tasks, SSC-ResNet, 96 px, batch 16, one thread):
#: loss-only methods <= 1.05x EW; gradient balancing over the shared parameters <= 2.0x, over
#: the shared representation <= 1.3x.
LOSS_ONLY_TIME = 1.05
JACOBIAN_TIME = {"parameters": 2.0, "representation": 1.3}


def target_for(method: str, jacobian: str = "parameters") -> dict[str, float] | None:
    """The overhead budget of ``method`` (:data:`TARGETS`, else its family's), or None."""
    from busmtl.weighting import WEIGHTERS
    from busmtl.weighting.jacobian import JacobianWeighter
    from busmtl.weighting.scalarized import ScalarizedWeighter

    if method in TARGETS:
        return TARGETS[method]
    cls = WEIGHTERS.get(method)
    if cls is not None and issubclass(cls, JacobianWeighter):
        return {"time": JACOBIAN_TIME[jacobian]}
    if cls is not None and issubclass(cls, ScalarizedWeighter):
        return {"time": LOSS_ONLY_TIME}
    return None


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; a CUDA request without CUDA is an error
    (:func:`busmtl.training.trainer.resolve_device`, with the bench's accepted names checked first)."""
    from busmtl.training.trainer import resolve_device as trainer_device

    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ValueError(f"--device {device!r}: use auto, cpu, cuda or cuda:N")
    return str(trainer_device(device))


def prime(weighter: Any, num_tasks: int, seed: int = 0) -> None:
    """Bring ``weighter`` to its steady state with synthetic losses (see the module docstring)."""
    import torch

    from busmtl.weighting.dmf_memory import DMFWeighter

    gen = torch.Generator().manual_seed(seed)
    for epoch in range(3):
        weighter.epoch_end((1.0 + torch.rand(num_tasks, generator=gen)) / (1 + epoch))
    if isinstance(weighter, DMFWeighter):
        for _ in range(weighter.history):
            weighter.update(torch.rand(num_tasks, generator=gen, dtype=torch.float64))


def measure(
    method: str,
    image_size: int,
    batch_size: int,
    encoder: str,
    steps: int,
    warmup: int,
    device: str,
    seed: int = 0,
    threads: int | None = None,
    jacobian: str = "parameters",
) -> dict[str, Any]:
    """Time ``warmup + steps`` training steps of ``method`` in this process; one result row
    (wall time ``step_ms`` and this process's CPU time ``cpu_ms`` per step)."""
    import torch

    from busmtl.models import SSCResNet
    from busmtl.training.efficiency import (
        Stopwatch,
        memory_now_mb,
        peak_memory_mb,
        reset_peak_memory,
        synchronize,
    )
    from busmtl.training.step import Batch, network_losses, train_step
    from busmtl.weighting import get_weighter, hyperparameters

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(resolve_device(device))
    torch.manual_seed(seed)
    model = SSCResNet(encoder=encoder).to(dev).train()
    hparams = {"jacobian": jacobian} if "jacobian" in hyperparameters(method) else {}
    weighter = get_weighter(method, 2, **hparams).to(dev)
    prime(weighter, 2, seed)
    params = list(model.parameters()) + list(weighter.network_parameters())
    optimizer = torch.optim.Adam(params, lr=1e-4)
    batch = Batch(
        torch.randn(batch_size, 3, image_size, image_size, device=dev),
        (torch.rand(batch_size, 1, image_size, image_size, device=dev) > 0.8).float(),
        torch.randint(0, 2, (batch_size,), device=dev),
    )
    synchronize(dev)
    if dev.type == "cuda":  # on the CPU the peak is the fresh process's own (see above)
        reset_peak_memory(dev)
    before = memory_now_mb(dev)
    watch = Stopwatch(dev)
    cpu: list[float] = []
    for i in range(warmup + steps):
        cpu_start = time.process_time()
        watch.start()
        train_step(model, weighter, optimizer,
                   lambda: network_losses(model, batch, dev, "fp32"),
                   where=f"{method}, benchmark step {i + 1}")
        watch.stop()
        cpu.append(1000.0 * (time.process_time() - cpu_start))
    times = [1000.0 * t for t in watch.durations[warmup:]]
    cpu_ms = cpu[warmup:]
    peak, kind = peak_memory_mb(dev)
    paired = paired_with_ew(method, model, weighter, optimizer, batch, dev, steps, encoder, seed)
    return {
        **paired,
        "method": method,
        "step_ms": times,
        "step_ms_median": statistics.median(times),
        "step_ms_max": max(times),
        "cpu_ms": cpu_ms,
        "cpu_ms_median": statistics.median(cpu_ms),
        "jacobian": hparams.get("jacobian"),
        "peak_memory_mb": peak,
        "memory_before_steps_mb": before,
        "step_memory_mb": max(peak - before, 0.0),
        "memory_kind": kind,
        "device": str(dev),
        "threads": torch.get_num_threads(),
    }


def paired_with_ew(method: str, model: Any, weighter: Any, optimizer: Any, batch: Any,
                   dev: Any, steps: int, encoder: str, seed: int) -> dict[str, list[float]]:
    """CPU time of ``steps`` more steps of ``method``, each right after one step of EW on its own
    copy of the network in this process (after one untimed EW step): ``paired_cpu_ms`` and
    ``paired_ew_cpu_ms``. Whatever else the machine runs then weighs on both alike, so their
    ratio holds where the load changes between the methods' processes. Measured after the
    method's peak memory, which the second network would otherwise raise."""
    import torch

    from busmtl.models import SSCResNet
    from busmtl.training.step import network_losses, train_step
    from busmtl.weighting import get_weighter

    if method == "ew":
        return {}
    torch.manual_seed(seed)
    ew_model = SSCResNet(encoder=encoder).to(dev).train()
    ew, ew_optimizer = get_weighter("ew", 2).to(dev), torch.optim.Adam(ew_model.parameters(),
                                                                        lr=1e-4)
    setups = (("ew", ew_model, ew, ew_optimizer), (method, model, weighter, optimizer))
    cpu: dict[str, list[float]] = {"ew": [], method: []}
    for i in range(steps + 1):
        for name, net, w, opt in setups:
            start = time.process_time()
            train_step(net, w, opt, lambda net=net: network_losses(net, batch, dev, "fp32"),
                       where=f"{name}, paired benchmark step {i + 1}")
            if i:  # the first EW step warms its network up
                cpu[name].append(1000.0 * (time.process_time() - start))
    return {"paired_cpu_ms": cpu[method], "paired_ew_cpu_ms": cpu["ew"]}


def _single_command(args: argparse.Namespace, method: str, jacobian: str) -> list[str]:
    cmd = [
        sys.executable, "-m", "busmtl.bench.weighting", "--single", method,
        "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
        "--encoder", args.encoder, "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--device", args.device, "--seed", str(args.seed),
        "--jacobian", jacobian,
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd


def run_single(args: argparse.Namespace, method: str, jacobian: str) -> dict[str, Any]:
    """Measure ``method`` (a gradient-balancing one over ``jacobian``) in a fresh subprocess and
    return its JSON row."""
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    done = subprocess.run(_single_command(args, method, jacobian), capture_output=True, text=True, env=env,
                          check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"benchmark of {method!r} failed (exit {done.returncode}):\n{tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def pool(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge the rows of one method from several rounds (step times pooled, memory max; the
    per-round medians kept as ``round_ms_median`` / ``round_cpu_ms_median`` for the spread)."""
    times = [t for r in rows for t in r["step_ms"]]
    out = dict(rows[0])
    out.update(
        step_ms=times,
        step_ms_median=statistics.median(times),
        step_ms_max=max(times),
        round_ms_median=[statistics.median(r["step_ms"]) for r in rows],
        peak_memory_mb=max(r["peak_memory_mb"] for r in rows),
        step_memory_mb=max(r["step_memory_mb"] for r in rows),
        memory_before_steps_mb=min(r["memory_before_steps_mb"] for r in rows),
        rounds=len(rows),
    )
    if all("cpu_ms" in r for r in rows):
        cpu = [t for r in rows for t in r["cpu_ms"]]
        out.update(cpu_ms=cpu, cpu_ms_median=statistics.median(cpu),
                   round_cpu_ms_median=[statistics.median(r["cpu_ms"]) for r in rows])
    if all("paired_cpu_ms" in r for r in rows):
        mine = [t for r in rows for t in r["paired_cpu_ms"]]
        ew = [t for r in rows for t in r["paired_ew_cpu_ms"]]
        out.update(paired_cpu_ms=mine, paired_ew_cpu_ms=ew,
                   paired_cpu_ratio=statistics.median(mine) / statistics.median(ew),
                   round_paired_cpu_ratio=[
                       statistics.median(r["paired_cpu_ms"]) / statistics.median(
                           r["paired_ew_cpu_ms"]) for r in rows])
    return out


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the ratios to ``ew`` and the verdict on the :data:`TARGETS` to every row.

    ``time_ratio`` (median step), ``max_time_ratio`` (longest step), ``memory_ratio`` (peak
    memory) and, when present, ``cpu_time_ratio`` (median step's CPU time) and
    ``step_memory_ratio`` (what the steps add to the memory held before them); ``target_ok``
    (bool or None: the CPU-time ratio, else the wall-time one, and the memory ratio within the
    budget) and ``target`` (text).
    """
    base = next((r for r in rows if r["method"] == "ew"), None)
    if base is None:
        raise ValueError("the benchmark needs 'ew' among the methods (ratios are to ew)")
    out = []
    for r in rows:
        row = dict(r)
        row["time_ratio"] = r["step_ms_median"] / base["step_ms_median"]
        row["max_time_ratio"] = r["step_ms_max"] / base["step_ms_max"]
        row["memory_ratio"] = r["peak_memory_mb"] / base["peak_memory_mb"]
        if "step_memory_mb" in r and base.get("step_memory_mb"):
            row["step_memory_ratio"] = r["step_memory_mb"] / base["step_memory_mb"]
        if "cpu_ms_median" in r and base.get("cpu_ms_median"):
            row["cpu_time_ratio"] = r["cpu_ms_median"] / base["cpu_ms_median"]
        for key, out_key in (("round_ms_median", "time_ratio_rounds"),
                             ("round_cpu_ms_median", "cpu_time_ratio_rounds")):
            if key in r and key in base:
                row[out_key] = [a / b for a, b in zip(r[key], base[key])]
        if "paired_cpu_ratio" in r:  # measured beside EW in the same process: preferred
            row["unpaired_cpu_time_ratio"] = row.get("cpu_time_ratio")
            row["cpu_time_ratio"] = r["paired_cpu_ratio"]
            row["cpu_time_ratio_rounds"] = r["round_paired_cpu_ratio"]
            row["cpu_time_ratio_kind"] = "paired"
        target = target_for(r["method"], r.get("jacobian") or "parameters")
        if target is None:
            row["target_ok"], row["target"] = None, "-"
        else:
            time_ratio = row.get("cpu_time_ratio", row["time_ratio"])
            ok = time_ratio <= target["time"] and row["memory_ratio"] <= target.get(
                "memory", float("inf")
            )
            limits = ", ".join(f"{k} <= {v}x" for k, v in target.items())
            row["target_ok"] = ok
            row["target"] = f"{'ok' if ok else 'MISSED'} ({limits})"
        out.append(row)
    return out


def _spread(values: list[float] | None) -> str:
    """``min-max`` of the per-round ratios (``-`` with fewer than two rounds)."""
    return f"{min(values):.2f}-{max(values):.2f}" if values and len(values) > 1 else "-"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of the rows returned by :func:`ratios`: wall and CPU median-step
    ratios to ew with their min-max over the rounds, memory, and the target."""
    width = max([12, *(len(row_name(r)) for r in rows)])
    head = (
        f"{'method':<{width}} {'median ms':>10} {'max ms':>9} {'step MiB':>8} {'time x':>7} "
        f"{'rounds':>10} {'cpu x':>6} {'rounds':>10} {'mem x':>6} {'stepmem x':>9}  target"
    )
    lines = [head, "-" * len(head)]
    nan = float("nan")
    for r in rows:
        lines.append(
            f"{row_name(r):<{width}} {r['step_ms_median']:>10.1f} {r['step_ms_max']:>9.1f} "
            f"{r.get('step_memory_mb', nan):>8.1f} {r['time_ratio']:>7.2f} "
            f"{_spread(r.get('time_ratio_rounds')):>10} {r.get('cpu_time_ratio', nan):>6.2f} "
            f"{_spread(r.get('cpu_time_ratio_rounds')):>10} {r['memory_ratio']:>6.2f} "
            f"{r.get('step_memory_ratio', nan):>9.2f}  {r['target']}"
        )
    return "\n".join(lines)


def row_name(row: dict[str, Any]) -> str:
    """The method's name, with ``(rep)`` for a Jacobian over the shared representation."""
    return row["method"] + (" (rep)" if row.get("jacobian") == "representation" else "")


def variants(methods: list[str], jacobian: str) -> list[tuple[str, str]]:
    """``(method, jacobian)`` pairs to measure: every method once, the gradient-balancing ones
    over ``jacobian`` (``"both"``: over the parameters, then again over the representation)."""
    from busmtl.weighting import hyperparameters

    out = []
    for method in methods:
        if "jacobian" not in hyperparameters(method):
            out.append((method, "parameters"))
        elif jacobian == "both":
            out += [(method, "parameters"), (method, "representation")]
        else:
            out.append((method, jacobian))
    return out


def run(args: argparse.Namespace) -> int:
    """``busmtl bench weighting``: measure every method, print the table, write the JSON."""
    from busmtl.io import write_json
    from busmtl.weighting import available

    if args.methods == "all":
        methods = available()
    else:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(available()))
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; valid: {', '.join(available())}")
    check_counts(args, "image_size", "batch_size", "steps", "repeats")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {args.warmup}")
    resolve_device(args.device)
    if "ew" not in methods:
        methods = ["ew", *methods]
    methods = list(dict.fromkeys(methods))

    env_before = environment()
    started = time.perf_counter()
    plan = variants(methods, args.jacobian)
    measured: dict[tuple[str, str], list[dict[str, Any]]] = {v: [] for v in plan}
    total = len(plan) * args.repeats
    for round_ in range(args.repeats):
        for i, (method, jacobian) in enumerate(plan):
            shown = row_name({"method": method, "jacobian": jacobian})
            print(f"[{round_ * len(plan) + i + 1}/{total}] {shown}", file=sys.stderr, flush=True)
            measured[(method, jacobian)].append(run_single(args, method, jacobian))
    table = ratios([pool(measured[v]) for v in plan])
    device = table[0]["device"]
    settings = {
        k: getattr(args, k)
        for k in ("methods", "image_size", "batch_size", "encoder", "steps", "warmup", "repeats",
                  "seed", "threads", "device", "jacobian")
    }
    settings["resolved_device"] = device
    machine = env_before | {"load_average_end": environment()["load_average"],
                            "wall_s": time.perf_counter() - started,
                            "threads_used": table[0].get("threads")}
    title = (
        f"SSC-ResNet ({args.encoder}), batch {args.batch_size}, {args.image_size}x"
        f"{args.image_size}, {args.steps} timed steps after {args.warmup} warm-up x "
        f"{args.repeats} round(s), device {device}, {table[0].get('threads')} thread(s), "
        "gradient methods' Jacobian w.r.t. the shared "
        + ("parameters and, marked (rep), the representation" if args.jacobian == "both"
           else args.jacobian)
    )
    print(title)
    print(format_table(table))
    print("time x / cpu x: median wall / CPU time of a step over ew's, all rounds pooled; "
          "rounds: min-max of the per-round ratios (rounds interleaved: ew, dwa, ..., ew, ...); "
          "the target is judged on cpu x.")
    if device == "cpu":
        print("CPU memory: peak RSS of a fresh process per method (includes torch and the model); "
              "'step MiB' = peak minus the RSS before the first step.")
    write_json(args.out, {"title": title, "settings": settings, "environment": machine,
                          "targets": TARGETS, "loss_only_time": LOSS_ONLY_TIME,
                          "jacobian_time": JACOBIAN_TIME, "rows": table})
    print(f"written: {args.out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options (shared by ``busmtl bench weighting`` and ``python -m``)."""
    add_network_options(p, image_size=128, batch_size=8, encoder="resnet34")
    p.add_argument("--steps", type=int, default=10, help="timed steps per method (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--repeats", type=int, default=1,
                   help="interleaved rounds over all methods, step times pooled (default 1)")
    p.add_argument("--methods", default="all", help="comma-separated names or 'all'; ew is added")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch/OpenMP threads per measurement (default: torch's default)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model and the batch")
    p.add_argument("--jacobian", default="parameters",
                   choices=("parameters", "representation", "both"),
                   help="gradient-balancing methods: Jacobian w.r.t. the shared parameters "
                        "(default), the shared representation, or both (each method twice)")
    p.add_argument("--out", default="bench/weighting.json", help="JSON file to write")


def main(argv: list[str] | None = None) -> int:
    """``python -m busmtl.bench.weighting``; ``--single METHOD`` prints one JSON row."""
    p = argparse.ArgumentParser(
        prog="python -m busmtl.bench.weighting", description=__doc__.splitlines()[0]
    )
    add_arguments(p)
    p.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        if args.single:
            row = measure(args.single, args.image_size, args.batch_size, args.encoder,
                          args.steps, args.warmup, args.device, args.seed, args.threads,
                          args.jacobian)
            print(json.dumps(row))
            return 0
        return run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
