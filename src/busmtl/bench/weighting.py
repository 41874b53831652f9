"""Overhead of each loss weighter on SSC-ResNet: step time and peak memory, as ratios to ``ew``.

Usage: ``busmtl bench weighting`` or ``python -m busmtl.bench.weighting [--image-size 128
--batch-size 8 --encoder resnet34 --steps 10 --warmup 2 --methods all --out bench/weighting.json]``.

Every method runs in a fresh subprocess (``--single METHOD``) so that its peak memory is its own:
``torch.cuda.max_memory_allocated`` on a GPU, the peak resident set size (``ru_maxrss``) of the
process on a CPU. A step is forward + ``weighter.backward`` + ``optimizer.step`` on random data
(CUDA synchronised before the clock is read). All methods are measured in one run, on the same
machine, so only the ratios are meant to be compared. The primary paper (Table III) reports
GradNorm at 8.5x the memory and 7.2x the longest step of equal weighting.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Targets from the issue: method -> {"time": max ratio, "memory": max ratio}.
TARGETS: dict[str, dict[str, float]] = {
    "dwa": {"time": 1.05}, "atdwa": {"time": 1.05}, "uw": {"time": 1.05},
    "dmf_var": {"time": 1.05}, "dmf_mad": {"time": 1.05}, "dmf_bayes": {"time": 1.05},
    "gradnorm": {"time": 1.5, "memory": 1.25}, "dbmtl": {"time": 2.0},
}


def measure(method: str, image_size: int, batch_size: int, encoder: str, steps: int,
            warmup: int, device: str, seed: int = 0) -> dict[str, Any]:
    """Time ``steps`` training steps (after ``warmup``) of ``method`` in this process."""
    import torch

    from busmtl import losses as L
    from busmtl.models import SSCResNet
    from busmtl.weighting import get_weighter

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    torch.manual_seed(seed)
    model = SSCResNet(encoder=encoder).to(dev).train()
    weighter = get_weighter(method, 2).to(dev)
    optimizer = torch.optim.Adam(list(model.parameters()) + weighter.network_parameters(), lr=1e-4)
    image = torch.randn(batch_size, 3, image_size, image_size, device=dev)
    mask = (torch.rand(batch_size, 1, image_size, image_size, device=dev) > 0.8).float()
    label = torch.randint(0, 2, (batch_size,), device=dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for i in range(warmup + steps):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start = time.perf_counter()
        seg, cls = model(image)
        optimizer.zero_grad(set_to_none=True)
        weighter.backward(L.task_losses(seg, cls, mask, label), model)
        optimizer.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= warmup:
            times.append(1000.0 * (time.perf_counter() - start))
    if dev.type == "cuda":
        memory, kind = torch.cuda.max_memory_allocated(dev) / 2**20, "cuda_max_allocated"
    else:
        memory, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cpu_peak_rss"
    return {"method": method, "step_ms_median": statistics.median(times), "step_ms_max": max(times),
            "peak_memory_mb": memory, "memory_kind": kind, "device": str(dev)}


def _single_args(args: argparse.Namespace, method: str) -> list[str]:
    return [sys.executable, "-m", "busmtl.bench.weighting", "--single", method,
            "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
            "--encoder", args.encoder, "--steps", str(args.steps), "--warmup", str(args.warmup),
            "--device", args.device]


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``time_ratio`` (median step), ``max_time_ratio`` and ``memory_ratio`` to ``ew``, and
    ``target`` ("ok" / "MISSED" / "-") per row."""
    base = next((r for r in rows if r["method"] == "ew"), None)
    if base is None:
        raise ValueError("the benchmark needs 'ew' among the methods (ratios are to ew)")
    out = []
    for r in rows:
        row = dict(r)
        row["time_ratio"] = r["step_ms_median"] / base["step_ms_median"]
        row["max_time_ratio"] = r["step_ms_max"] / base["step_ms_max"]
        row["memory_ratio"] = r["peak_memory_mb"] / base["peak_memory_mb"]
        target = TARGETS.get(r["method"])
        if target is None:
            row["target"] = "-"
        else:
            ok = row["time_ratio"] <= target["time"] and row["memory_ratio"] <= target.get("memory", 1e9)
            limits = ", ".join(f"{k} <= {v}x" for k, v in target.items())
            row["target"] = f"{'ok' if ok else 'MISSED'} ({limits})"
        out.append(row)
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'method':<10} {'median ms':>10} {'max ms':>9} {'memory MB':>10} "
            f"{'time x':>7} {'max x':>7} {'mem x':>7}  target")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['method']:<10} {r['step_ms_median']:>10.1f} {r['step_ms_max']:>9.1f} "
            f"{r['peak_memory_mb']:>10.1f} {r['time_ratio']:>7.2f} {r['max_time_ratio']:>7.2f} "
            f"{r['memory_ratio']:>7.2f}  {r['target']}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from busmtl.io import write_json
    from busmtl.weighting import available

    methods = available() if args.methods == "all" else [m.strip() for m in args.methods.split(",")]
    unknown = sorted(set(methods) - set(available()))
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; valid: {', '.join(available())}")
    if "ew" not in methods:
        methods = ["ew", *methods]
    rows = []
    for method in tqdm(methods, desc="bench weighting", disable=None):
        done = subprocess.run(_single_args(args, method), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"benchmark of {method} failed: {done.stderr.strip().splitlines()[-1:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = ratios(rows)
    settings = {k: getattr(args, k) for k in ("image_size", "batch_size", "encoder", "steps", "warmup", "device")}
    print(f"SSC-ResNet ({args.encoder}), batch {args.batch_size}, {args.image_size}x{args.image_size}, "
          f"{args.steps} steps after {args.warmup} warm-up, device {rows[0]['device']}")
    print(format_table(table))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"settings": settings, "rows": table})
    print(f"written: {out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--encoder", default="resnet34")
    p.add_argument("--steps", type=int, default=10, help="timed steps per method")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--methods", default="all", help="comma-separated names or 'all'")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", default="bench/weighting.json", help="JSON file to write")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m busmtl.bench.weighting", description=__doc__.splitlines()[0])
    add_arguments(p)
    p.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.single:
        print(json.dumps(measure(args.single, args.image_size, args.batch_size, args.encoder,
                                 args.steps, args.warmup, args.device)))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
