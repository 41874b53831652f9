"""Size and CPU cost of the two networks: parameter counts and training-step times, as ratios to
SSC-ResNet measured in one run.

Usage: ``busmtl bench models`` or ``python -m busmtl.bench.models [--image-size 128
--batch-size 16 --encoder resnet18 --decoder-channels 128,64,32,16,16 --steps 5 --warmup 2
--repeats 1 --threads 1 --time-variants --out bench/models.json]``.

What is measured
----------------
* Parameters of SSC-ResNet, of the decoder-interaction network and of each row of the
  interaction paper's ablation (:data:`busmtl.models.interaction.ABLATION_VARIANTS`), with the
  parameters of each switchable module.
* A training step as the trainer runs it on the CPU: fp32, channels-last network and input, the
  project's task losses (Dice + BCE, CE), equal weighting's backward and Adam's step, on one
  fixed random batch; ``warmup`` untimed steps, then ``steps`` timed ones (median and longest).
  Both networks (and, with ``--time-variants``, every ablation variant) are timed in the same
  process with the same thread count; with ``--repeats R`` they are timed in R interleaved
  rounds whose step times are pooled, so that a slow period of a shared machine hits all alike.
  Wall-clock time (median, longest) and the process's CPU time (median) are both reported: on a
  machine shared with other jobs the CPU time of a one-thread run is the steadier measure.

Only the ratios measured in one run are meant to be compared.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

#: Networks timed by default: name -> (model, interaction modules).
NETWORKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ssc_resnet": ("ssc_resnet", ()),
    "interaction": ("interaction", ("attention_gates", "hmsf", "tim", "upa")),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--encoder", default="resnet18")
    p.add_argument("--decoder-channels", default="128,64,32,16,16",
                   help="five comma-separated widths (default: the CPU profiles')")
    p.add_argument("--steps", type=int, default=5, help="timed steps per network and round")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before each round")
    p.add_argument("--repeats", type=int, default=1, help="interleaved rounds, pooled")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--precisions", default="fp32",
                   help="comma-separated precisions timed for each network, e.g. fp32,auto "
                   "(auto: bf16 where the CPU has it natively); ratios to fp32 in one run")
    p.add_argument("--time-variants", action="store_true",
                   help="also time every ablation variant of the interaction network")
    p.add_argument("--out", default=None, help="write the report as JSON here")


def variants() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every network configuration counted: both networks and the ablation variants."""
    from busmtl.models.interaction import ABLATION_VARIANTS

    rows = dict(NETWORKS)
    rows.update({f"interaction/{v}": ("interaction", mods) for v, mods in ABLATION_VARIANTS.items()})
    return rows


def build(model: str, modules: tuple[str, ...], encoder: str,
          decoder_channels: tuple[int, ...]) -> torch.nn.Module:
    """The network, randomly initialised (seed 0), as the CPU profiles build it."""
    from busmtl.models import build as build_model
    from busmtl.models.interaction import MODULES

    torch.manual_seed(0)
    kwargs: dict[str, Any] = {"encoder": encoder, "encoder_weights": None, "num_classes": 2,
                                  "decoder_channels": decoder_channels}
    if model == "interaction":
        kwargs.update({m: m in modules for m in MODULES})
    return build_model(model, **kwargs)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def step_times(model: torch.nn.Module, image: torch.Tensor, mask: torch.Tensor,
               labels: torch.Tensor, steps: int, warmup: int,
               precision: str = "fp32") -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU milliseconds of ``steps`` training steps after ``warmup`` untimed
    ones, and how many steps gave a non-finite loss (stopped before the backward pass, so not
    timed; the model is left as it was and the next step tries again). The CPU time (``time.process_time``) counts only this process's work, so on a machine
    shared with other jobs it stays close to what the step costs; with one thread it is the
    step's cost, with several it is their sum.

    Every call trains a copy of ``model``, so each round starts from the same weights: the
    repeated steps on one batch never drift far enough to overflow (bf16 did, after some 20)."""
    from busmtl.training.step import Batch, NonFiniteLossError, network_losses, train_step
    from busmtl.weighting import get_weighter

    model = copy.deepcopy(model)
    model.train()
    weighter = get_weighter("ew", 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = Batch(image, mask, labels)
    device = torch.device("cpu")
    wall, cpu, non_finite = [], [], 0
    for i in range(warmup + steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            train_step(model, weighter, optimizer,
                       lambda: network_losses(model, batch, device, precision))
        except NonFiniteLossError:
            non_finite += 1
            continue
        if i >= warmup:
            wall.append(1000.0 * (time.perf_counter() - start))
            cpu.append(1000.0 * (time.process_time() - start_cpu))
    return wall, cpu, non_finite


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Counts of every configuration, step times of the timed ones, ratios to SSC-ResNet."""
    from busmtl.models.interaction import MODULES
    from busmtl.training.step import resolve_precision

    widths = tuple(int(c) for c in str(args.decoder_channels).split(","))
    precisions = list(dict.fromkeys(resolve_precision(p.strip(), "cpu")
                                    for p in str(args.precisions).split(",") if p.strip()))
    if "fp32" not in precisions:
        precisions.insert(0, "fp32")
    old_threads = torch.get_num_threads()
    torch.set_num_threads(int(args.threads))
    try:
        configs = variants()
        models = {name: build(m, mods, args.encoder, widths) for name, (m, mods) in configs.items()}
        timed = list(NETWORKS) + ([n for n in configs if n not in NETWORKS] if args.time_variants else [])
        g = torch.Generator().manual_seed(0)
        size, b = int(args.image_size), int(args.batch_size)
        image = torch.randn(b, 3, size, size, generator=g).contiguous(memory_format=torch.channels_last)
        mask = (torch.rand(b, 1, size, size, generator=g) > 0.7).float()
        labels = torch.arange(b) % 2
        for name in timed:
            models[name] = models[name].to(memory_format=torch.channels_last)
        keys = [(n, p) for n in timed for p in precisions]
        times: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
        cpu_times: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
        non_finite: dict[tuple[str, str], int] = dict.fromkeys(keys, 0)
        for _ in range(max(int(args.repeats), 1)):  # interleaved: every key once per round
            for name, precision in keys:
                wall, cpu, bad = step_times(models[name], image, mask, labels, args.steps,
                                            args.warmup, precision)
                times[(name, precision)] += wall
                cpu_times[(name, precision)] += cpu
                non_finite[(name, precision)] += bad
    finally:
        torch.set_num_threads(old_threads)
    base_params = count(models["ssc_resnet"])
    base_time = statistics.median(times[("ssc_resnet", "fp32")])
    base_cpu = statistics.median(cpu_times[("ssc_resnet", "fp32")])
    rows = []
    for name, (model_name, modules) in configs.items():
        model = models[name]
        row: dict[str, Any] = {
            "network": name, "model": model_name, "modules": list(modules),
            "parameters": count(model), "parameter_ratio": count(model) / base_params,
        }
        if model_name == "interaction":
            row["module_parameters"] = {m: model.module_parameters(m) for m in MODULES}
        for precision in precisions if name in timed else ["fp32"]:
            out = dict(row, precision=precision)
            if precision != "fp32":
                out["network"] = f"{name} [{precision}]"
            key = (name, precision)
            if times.get(key) and cpu_times[(name, "fp32")]:
                fp32_cpu = statistics.median(cpu_times[(name, "fp32")])
                out.update(step_ms=times[key], step_ms_median=statistics.median(times[key]),
                           step_ms_max=max(times[key]),
                           time_ratio=statistics.median(times[key]) / base_time,
                           cpu_ms=cpu_times[key],
                           cpu_ms_median=statistics.median(cpu_times[key]),
                           cpu_ratio=statistics.median(cpu_times[key]) / base_cpu,
                           precision_ratio=statistics.median(cpu_times[key]) / fp32_cpu,
                           non_finite_steps=non_finite[key])
            rows.append(out)
    return {
        "settings": {"image_size": size, "batch_size": b, "encoder": args.encoder,
                     "decoder_channels": list(widths), "encoder_weights": None,
                     "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
                     "threads": int(args.threads), "precisions": precisions,
                     "channels_last": True,
                     "weighter": "ew"},
        "environment": {"torch_version": torch.__version__, "python": platform.python_version(),
                        "cpu": _cpu()},
        "rows": rows,
    }


def _cpu() -> str:
    from busmtl.training.artifacts import cpu_model

    return cpu_model()


def table(report: dict[str, Any]) -> str:
    """The report as a text table."""
    header = (f"{'network':<31}{'parameters':>12}{'x params':>10}{'step ms':>10}{'max ms':>10}"
              f"{'time x':>8}{'cpu ms':>10}{'cpu x':>8}{'vs fp32':>9}")
    lines = [header]
    for r in report["rows"]:
        timed = "step_ms_median" in r
        lines.append(
            f"{r['network']:<31}{r['parameters']:>12,}{r['parameter_ratio']:>10.2f}"
            + ((f"{r['step_ms_median']:>10.0f}{r['step_ms_max']:>10.0f}{r['time_ratio']:>8.2f}"
                f"{r['cpu_ms_median']:>10.0f}{r['cpu_ratio']:>8.2f}"
                f"{r['precision_ratio']:>9.2f}") if timed else "")
        )
    for r in report["rows"]:
        if r.get("non_finite_steps"):
            lines.append(f"{r['network']}: {r['non_finite_steps']} step(s) gave a non-finite loss "
                         "(not timed)")
    s = report["settings"]
    lines.append(f"({s['encoder']}, decoder {s['decoder_channels']}, {s['image_size']} px, batch "
                 f"{s['batch_size']}, {s['threads']} thread(s), {', '.join(s['precisions'])}, "
                 "channels-last, random init; 'x' ratios to ssc_resnet at fp32, 'vs fp32' CPU "
                 "time to the same network at fp32, all measured in this run)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    report = measure(args)
    print(table(report))
    if args.out:
        from busmtl.io import write_json

        path = write_json(Path(args.out), report)
        print(f"report: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m busmtl.bench.models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
