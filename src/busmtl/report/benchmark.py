"""The benchmark of every weighter on BUSI: what each one buys (test Dice and accuracy against EW on
the leak-free protocol, seed 0) next to what it costs (CPU time per step as a ratio to EW).

The runs come from two committed profiles with the same settings: the four methods of the
leak-free reference set (``busi-cpu-grouped``, its seed-0 runs) and every other registered
weighter (``busi-cpu-benchmark``). The cost comes from ``busmtl bench weighting --methods all``,
whose JSON is committed as ``book/data/bench-weighting.json``. A method without finished runs is
listed as pending, never dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from busmtl.bench.weighting import JACOBIAN_TIME, LOSS_ONLY_TIME
from busmtl.report import aggregate
from busmtl.report.colors import FIG_DPI, LABEL_SIZE, PAGE_WIDTH_IN, color
from busmtl.report.headline import METRICS, Estimate, crossed_bootstrap, paired_cube, short
from busmtl.report.tables import COLLAPSED_MARK, ONE_FOLD_MARK

#: Where the committed cost measurement lies (relative to the repository root).
BENCH_JSON = "book/data/bench-weighting.json"
#: Where the committed timing of the aggregations alone lies (``busmtl bench aggregators``).
AGGREGATORS_JSON = "book/data/bench-aggregators.json"
#: The profiles whose seed-0 runs make up the benchmark.
PROFILES: tuple[str, ...] = ("busi-cpu-grouped", "busi-cpu-benchmark")


def collect(runs_root: Path) -> pd.DataFrame:
    """Seed-0 runs of every method of :data:`PROFILES`, one row per (method, fold)."""
    frames = [aggregate.collect(runs_root, profile, seeds=[0]) for profile in PROFILES]
    return pd.concat(frames, ignore_index=True)


#: What :func:`costs` keeps of each method's row of the benchmark's JSON.
COST_KEYS: tuple[str, ...] = ("cpu_time_ratio", "cpu_time_ratio_rounds", "time_ratio",
                              "step_memory_ratio")


def costs(path: Path) -> dict[str, dict]:
    """Method -> ``cpu_time_ratio`` (median CPU time of a step, pooled over the rounds, ratio to
    EW), ``cpu_time_ratio_rounds`` (the same ratio in each interleaved round), ``time_ratio``
    (wall clock) and ``step_memory_ratio`` from the benchmark's JSON (empty when it is absent).
    These are the method as the benchmark runs train it (a gradient-balancing method over the
    shared parameters); where the JSON also measured it over the shared representation, that
    row's entry is under ``"representation"``."""
    if not path.is_file():
        return {}
    report = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, dict] = {}
    rows = report.get("rows", [])
    for r in rows:
        if r.get("jacobian") != "representation":
            out[r["method"]] = {k: r[k] for k in COST_KEYS if k in r}
    for r in rows:
        if r.get("jacobian") == "representation" and r["method"] in out:
            out[r["method"]]["representation"] = {k: r[k] for k in COST_KEYS if k in r}
    return out


#: The benchmark's options in the order :func:`command` writes them (its JSON's ``settings``).
COMMAND_OPTIONS: tuple[str, ...] = ("image_size", "batch_size", "encoder", "steps", "warmup",
                                    "repeats", "threads", "jacobian")
#: The same for ``busmtl bench aggregators``.
AGGREGATOR_OPTIONS: tuple[str, ...] = ("image_size", "batch_size", "encoder", "calls", "repeats",
                                       "threads", "jacobian")


def command(path: Path, base: str = "busmtl bench weighting",
            keys: tuple[str, ...] = COMMAND_OPTIONS) -> str:
    """The ``base`` command that wrote the JSON at ``path``, from the settings it records (its
    ``keys``, after ``--methods``, which is ``all`` where none is recorded); ``base --methods
    all`` when the JSON is absent."""
    if not path.is_file():
        return f"{base} --methods all"
    settings = json.loads(path.read_text(encoding="utf-8")).get("settings", {})
    options = [f"--{key.replace('_', '-')} {settings[key]}" for key in keys
               if settings.get(key) is not None]
    return " ".join([base, f"--methods {settings.get('methods', 'all')}", *options])


def machine(path: Path) -> str:
    """Where the benchmark at ``path`` ran, for a caption: ``"AMD EPYC, 2 cores, AVX2, torch
    2.14.1"``; a CPU model the JSON does not record is said to be unrecorded."""
    if not path.is_file():
        return "this machine (no benchmark recorded yet)"
    env = json.loads(path.read_text(encoding="utf-8")).get("environment", {})
    cores = env.get("cpu_count")
    torch = f"torch {env['torch_version'].split('+')[0]}" if env.get("torch_version") else ""
    device = env.get("cuda_device") or env.get("cpu")
    if device:
        return ", ".join(str(d) for d in (device, cores and f"{cores} cores",
                                          env.get("cpu_capability"), torch) if d)
    sized = f"a {cores}-core machine" if cores else "a machine"
    return f"{sized} whose CPU model it did not record" + (f", with {torch}" if torch else "")


#: The CPU-time ratios to EW a method's training step is meant to stay within (those of
#: ``busmtl bench weighting``): a gradient-balancing method with its Jacobian over the shared
#: parameters, over the shared representation, and a method that only weighs the losses.
FAMILY_TARGETS: dict[str, float] = {**JACOBIAN_TIME, "loss only": LOSS_ONLY_TIME}

#: How the cost tables' CPU-time ratios are formed, for their captions.
RATIO_NOTE: str = ("CPU time as a ratio to EW, pooled (the median of all the method's timed "
                   "steps over the median of all EW's) and within each round; a ratio of "
                   "medians over the pooled steps need not lie between the rounds' ratios, "
                   "since the rounds differ in the machine's load")


def ratio_text(entry: dict | None) -> str:
    """``0.93 (rounds 0.96, 1.01)``: the CPU-time ratio pooled over the rounds (median of all
    the method's timed steps over the median of all EW's), then the ratio within each round. The
    pooled ratio can lie outside the rounds' ratios: the rounds differ in load."""
    if not entry or entry.get("cpu_time_ratio") is None:
        return "not measured"
    text = f"{entry['cpu_time_ratio']:.2f}"
    if len(entry.get("cpu_time_ratio_rounds") or []) > 1:
        text += f" (rounds {_rounds(entry)})"
    return text


def _rounds(entry: dict) -> str:
    """The CPU-time ratio of each round, ``0.96, 1.01`` (empty without rounds)."""
    return ", ".join(f"{r:.2f}" for r in entry.get("cpu_time_ratio_rounds") or [])


def _pooled(entry: dict) -> str:
    """The pooled CPU-time ratio to EW, ``1.62`` (``not measured`` without one)."""
    pooled = entry.get("cpu_time_ratio")
    return f"{pooled:.2f}" if pooled is not None else "not measured"


def cost_table(methods: list[str], cost: dict[str, dict]) -> pd.DataFrame:
    """The cost of ``methods`` from the benchmark: CPU time of a training step as a ratio to EW
    (pooled over the interleaved rounds, and within each round) and the memory a step adds, as
    a ratio to EW."""
    rows = []
    for method in methods:
        entry = cost.get(method, {})
        memory = entry.get("step_memory_ratio")
        row = {"method": short(method),
               "CPU time per step / EW, pooled": _pooled(entry),
               "in each round": _rounds(entry) or "\u2013",
               "memory added by a step / EW": (f"{memory:.2f}" if memory is not None
                                               else "not measured")}
        if any("representation" in cost.get(m, {}) for m in methods):
            row["CPU time / EW, Jacobian over the representation"] = (
                ratio_text(entry["representation"]) if "representation" in entry else "\u2013")
        rows.append(row)
    return pd.DataFrame(rows)


def _range(cost: dict[str, dict], methods: list[str], limit: float,
           representation: bool = False) -> tuple[str, str] | None:
    """``("1.49-2.59 times", "above the target of 2: ConFIG; GradDrop within the rounds'
    spread of it")`` over the ``methods`` with a CPU-time ratio (``None`` without any).

    A method is above the target when its pooled ratio and every round's ratio are; one whose
    pooled or round ratios fall on both sides of the target is within the rounds' spread of it:
    the benchmark cannot tell on which side it lies."""
    jacobian = "representation" if representation else "parameters"
    entries = {m: _entry(cost, m, jacobian) for m in methods if _ratio(cost, m, jacobian)}
    if not entries:
        return None
    ratios = {m: float(e["cpu_time_ratio"]) for m, e in entries.items()}
    sides = {m: [ratios[m], *(entries[m].get("cpu_time_ratio_rounds") or [])] for m in entries}
    above = [short(m) for m, values in sides.items() if min(values) > limit]
    near = [short(m) for m, values in sides.items() if min(values) <= limit < max(values)]
    low, high = f"{min(ratios.values()):.2f}", f"{max(ratios.values()):.2f}"
    verdict = (f"above the target of {limit:g}: {', '.join(above)}" if above
               else f"none above the target of {limit:g}")
    if near:
        verdict += f"; {join_names(near)} within the rounds' spread of it"
    return (f"{low} times" if low == high else f"{low}\u2013{high} times", verdict)


def cost_sentence(cost: dict[str, dict]) -> str:
    """What the benchmark measured, in one sentence: the range of CPU-time ratios to EW of the
    gradient-balancing methods (Jacobian over the shared parameters, and over the shared
    representation) and of the methods that weigh the losses only, naming those above their
    family's target (:data:`FAMILY_TARGETS`); then the project's own gradient-based methods
    (GradNorm, DB-MTL), each beside its own target (``busmtl.bench.weighting.TARGETS``)."""
    from busmtl.bench.weighting import target_for
    from busmtl.weighting import FAMILIES

    gradient = [m for m, family in FAMILIES.items() if family.startswith("gradient balancing")]
    loss_only = [m for m, family in FAMILIES.items() if family.startswith("loss only")
                 and m != "ew"]
    own = [m for m in FAMILIES if m not in gradient and m not in loss_only and m != "ew"
           and _ratio(cost, m, "parameters") and target_for(m)]
    parameters = _range(cost, gradient, FAMILY_TARGETS["parameters"])
    representation = _range(cost, gradient, FAMILY_TARGETS["representation"],
                            representation=True)
    rest = _range(cost, loss_only, FAMILY_TARGETS["loss only"])
    parts, targets = [], []
    if parameters:
        parts.append(f"a training step of a gradient-balancing method costs {parameters[0]} "
                     f"EW's CPU time with the Jacobian over the shared parameters "
                     f"({parameters[1]})")
        targets.append(f"{FAMILY_TARGETS['parameters']:g} times EW for a gradient-balancing "
                       "method with the Jacobian over the shared parameters")
    if parameters and representation:
        parts[-1] += (f" and {representation[0]} with the Jacobian over the shared "
                      f"representation ({representation[1]})")
        targets.append(f"{FAMILY_TARGETS['representation']:g} over the representation")
    if rest:
        parts.append(f"a method that weighs the losses only costs {rest[0]} EW's ({rest[1]})")
        targets.append(f"{FAMILY_TARGETS['loss only']:g} for a method that weighs the losses "
                       "only")
    if own:
        mine = [f"{short(m)} {_ratio(cost, m, 'parameters'):.2f} times (target "
                f"{target_for(m)['time']:g})" for m in own]
        parts.append(f"of the methods that take gradients of their own, {join_names(mine)}")
    if not parts:
        return "The cost of the methods has not been measured yet."
    text = "In the benchmark's one run, " + "; ".join(parts) + "."
    if targets:
        text += f" The targets are the costs this project set out to stay within: {join_names(targets)}."
    return text + _spread_sentence(cost)


def aggregation_sentence(cost: dict[str, dict], path: Path) -> str:
    """Whether the gradient-balancing methods above their target spend the excess in their
    aggregation: each one's aggregation alone in EW steps (``busmtl bench aggregators``, JSON at
    ``path``) against the most any other gradient-balancing method's takes, per Jacobian; an
    aggregation at least as long as the excess over the target accounts for it. Empty without
    the JSON."""
    if not path.is_file():
        return ""
    report = json.loads(path.read_text(encoding="utf-8"))
    parts, explained, unexplained = [], [], []
    for jacobian, where in (("parameters", "over the shared parameters"),
                            ("representation", "over the representation")):
        limit = FAMILY_TARGETS[jacobian]
        steps = {r["method"]: float(r["in_ew_steps"]) for r in report.get("rows", [])
                 if r["jacobian"] == jacobian}
        if not steps:
            continue
        over = sorted((m for m in steps if _ratio(cost, m, jacobian) > limit),
                      key=lambda m: -steps[m])
        rest = [steps[m] for m in steps if m not in over]
        text = where + ", "
        if over:
            text += (join_names([f"{steps[m]:.2f} for {short(m)}" for m in over])
                     + f" (whose pooled step ratio{'s are' if len(over) > 1 else ' is'} above "
                       f"the target of {limit:g} times EW)")
        if rest:
            text += (" and " if over else "") + (
                f"at most {max(rest):.2f} for {'the others' if over else 'every method'}")
        parts.append(text)
        for m in over:
            mine = f"{short(m)} ({where.removeprefix('over the ')})"
            if steps[m] >= _ratio(cost, m, jacobian) - limit:
                explained.append(mine)
            else:
                unexplained.append(mine)
    if not parts:
        return ""
    run = command(path, "busmtl bench aggregators", AGGREGATOR_OPTIONS)
    text = (" Timed alone on the Jacobians of consecutive EW training steps (another one at each "
            f"call, as in training), beside an EW step in the same process (`{run}`), one "
            f"aggregation takes, in EW steps, {'; '.join(parts)}.")
    if explained:
        text += (f" For {join_names(explained)} the aggregation alone costs at least the step's "
                 "excess over the target: the aggregator puts it over, not the Jacobian, which "
                 "costs every method the same.")
    if unexplained:
        text += (f" For {join_names(unexplained)} it is not: a solver iterating longer on the "
                 "gradients of BUSI than on those of a random batch, or the load of the machine "
                 "(the rounds' spread), would have to account for the rest.")
    return text


def join_names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _entry(cost: dict[str, dict], method: str, jacobian: str) -> dict:
    """The method's cost entry over ``jacobian`` (empty when not measured)."""
    entry = cost.get(method, {})
    return entry.get("representation", {}) if jacobian == "representation" else entry


def _ratio(cost: dict[str, dict], method: str, jacobian: str) -> float:
    """The method's pooled CPU-time ratio to EW over ``jacobian`` (0 when not measured)."""
    return float(_entry(cost, method, jacobian).get("cpu_time_ratio") or 0.0)


def _spread_sentence(cost: dict[str, dict]) -> str:
    """How far a method's ratio moved between the rounds (largest and median over the methods
    and both Jacobians): the resolution of the cost comparison. Empty with one round."""
    import numpy as np

    entries = [*cost.values(), *(e["representation"] for e in cost.values()
                                 if "representation" in e)]
    spreads = [max(r) - min(r) for e in entries if len(r := e.get("cpu_time_ratio_rounds")
                                                         or []) > 1]
    if not spreads:
        return ""
    text = (f" Between the rounds a method's ratio moved by up to {max(spreads):.2f} (median "
            f"{float(np.median(spreads)):.2f}); two methods whose ratios differ by less than "
            "their rounds do (the table's 'in each round' column) do not differ measurably in "
            "cost here.")
    lowest = min((e["cpu_time_ratio"] for e in entries if e.get("cpu_time_ratio") is not None),
                 default=1.0)
    if lowest < 1.0:
        text += (f" A ratio below 1 (the lowest is {lowest:.2f}) is such noise: every method "
                 "does at least EW's work per step.")
    return text


def differences(runs: pd.DataFrame) -> dict[tuple[str, str], Estimate | None]:
    """(method, metric) -> its difference to EW on the folds both have finished (crossed
    bootstrap over folds and test images), for every registered method but EW with a run."""
    from busmtl.weighting import available

    if runs.empty or "method" not in runs:
        return {}
    per_image = aggregate.per_image(runs)
    done = runs[runs["status"] == "done"]
    methods = [m for m in available() if m != "ew" and (done["method"] == m).any()]
    return {(method, name): crossed_bootstrap(paired_cube(per_image, method, "ew", per))
            for method in methods for name, (per, _) in METRICS.items()}


def clear_sentence(estimates: dict[tuple[str, str], Estimate | None],
                   unfinished: list[str] | tuple[str, ...] = ()) -> str:
    """How many differences to EW have an interval without zero, which ones, and how many
    such intervals chance alone would give among that many (one in twenty at 95 %). The
    methods in ``unfinished`` (some of their runs pending) are left out of the count and
    named: their few folds make an interval too narrow to judge by."""
    shown = {key: e for key, e in estimates.items() if e is not None and key[0] not in unfinished}
    waiting = [short(m) for m in unfinished if any(key[0] == m for key in estimates)]
    later = (f" {join_names(waiting)} {'is' if len(waiting) == 1 else 'are'} left out of this count "
             "until all of its folds have finished." if waiting else "")
    if not shown:
        return "No difference to EW can be estimated yet." + later
    clear = [(method, name, e) for (method, name), e in shown.items()
             if e.clear and e.cells >= 2]
    n, expected = len(shown), len(shown) / 20
    chance = (f"At the 95 % level about one interval in twenty misses the true difference, so "
              f"among these {n} about {expected:.1f} would exclude zero by chance alone even if "
              "no method differed from EW")
    if not clear:
        return f"None of the {n} differences to EW has an interval without zero. {chance}." + later
    listed = "; ".join(f"{short(m)}'s {name} ({e.text()}, {e.cells} folds)"
                       for m, name, e in clear)
    return (f"{len(clear)} of the {n} differences to EW {'has' if len(clear) == 1 else 'have'} "
            f"an interval without zero: {listed}. {chance}: such an interval is a lead to check "
            "with more seeds, not evidence that a method is better or worse than EW." + later)


def seed_sentence(estimates: dict[tuple[str, str], Estimate | None], spread: float,
                  folds: int = 5) -> str:
    """What the intervals leave out: they resample the folds and test images of one seed.
    ``spread`` is the standard deviation over seeds of one run's test Dice (the leak-free
    reference set's, :func:`busmtl.report.headline.seed_spread`); with independent seed noise on
    each fold, the difference of two methods' means over ``folds`` folds moves by
    ``spread * sqrt(2 / folds)`` with the seed alone. Counts the Dice differences smaller than
    that."""
    import math

    text = ("These intervals resample the folds and test images of one seed, not the seeds, "
            "so they are narrower than a rerun with other seeds would show.")
    if math.isnan(spread):
        return text + " How much a seed moves a result cannot be measured yet."
    noise = spread * math.sqrt(2 / folds)
    dice = [abs(e.value) for (_, name), e in estimates.items() if name == "Dice" and e]
    text += (f" On the leak-free reference set another seed moves one run's test Dice by "
             f"{spread:.3f} (standard deviation over seeds), so the difference of two methods' "
             f"means over {folds} folds moves by about {noise:.3f} with the seed alone")
    if dice:
        smaller = sum(d < noise for d in dice)
        text += (f"; {smaller} of the {len(dice)} Dice differences to EW "
                 f"{'is' if smaller == 1 else 'are'} smaller than that")
    return text + "."


def table(runs: pd.DataFrame, cost: dict[str, dict[str, float]],
          estimates: dict[tuple[str, str], Estimate | None] | None = None) -> pd.DataFrame:
    """One row per method: runs finished, mean test Dice and accuracy (``†k``: k of its runs have
    a collapsed classifier), their differences to EW (crossed bootstrap over folds and test
    images; ``‡`` where only one fold is paired, so the interval covers the images alone) and
    the CPU-time ratio to EW pooled over the benchmark's rounds, the Jacobian over
    the shared parameters as the runs train (:func:`cost_table` has the spread and the cheaper
    Jacobian over the representation). A method without finished runs reads ``pending`` with
    ``–`` for its differences."""
    from busmtl.weighting import available

    estimates = differences(runs) if estimates is None else estimates
    rows = []
    for method in available():
        group = runs[runs["method"] == method]
        done = group[group["status"] == "done"]
        row = {"method": short(method), "runs": f"{len(done)}/{max(len(group), 5)}"}
        for name, (_, column) in METRICS.items():
            if len(done) == 0:
                row[name], row[f"{name} \u2212 EW"] = "pending", "\u2013"
                continue
            row[name] = f"{done[column].mean():.3f}"
            collapsed = int(done["collapsed"].sum()) if "collapsed" in done else 0
            if name == "accuracy" and collapsed:
                row[name] += f" {COLLAPSED_MARK}{collapsed}"
            if method == "ew":
                row[f"{name} \u2212 EW"] = "(baseline)"
                continue
            e = estimates.get((method, name))
            # one fold leaves nothing to resample but images: the interval is marked too narrow
            mark = f" {ONE_FOLD_MARK}" if e and e.cells < 2 else ""
            row[f"{name} \u2212 EW"] = e.text() + mark if e else "\u2013 (no EW pair)"
        row["CPU time / EW"] = _pooled(cost.get(method, {}))
        rows.append(row)
    return pd.DataFrame(rows)


def tradeoff_figure(runs: pd.DataFrame, cost: dict[str, dict[str, float]]) -> plt.Figure:
    """Test Dice and accuracy (mean over the finished folds) against the CPU-time ratio to EW:
    the trade-off a reader chooses on. Each point is named (with ``k/n`` while only k of its n
    runs have finished), the names moved clear of each other
    and of the points (adjustText, a thin line to their point where moved). Methods without
    runs or without a cost are left out of the axes and named in the corner."""
    from adjustText import adjust_text

    # one panel above the other, each as wide as the text column, so that the names keep
    # their point size on the page
    fig, axes = plt.subplots(2, 1, figsize=(PAGE_WIDTH_IN, 7.4), dpi=FIG_DPI, sharex=True)
    done = runs[runs["status"] == "done"]
    columns = ["test_seg_dice", "test_cls_acc"]
    means = (done.groupby("method")[columns].mean() if len(done) and set(columns) <= set(done)
             else pd.DataFrame(columns=columns))
    missing, shown = [], []
    progress = partial(runs) if len(runs) else {}
    for method in dict.fromkeys(runs["method"]):
        ratio = cost.get(method, {}).get("cpu_time_ratio")
        if method not in means.index or ratio is None:
            missing.append(short(method))
        else:
            shown.append((method, ratio))
    names: list[list] = []
    for ax, column, name in zip(axes, columns, ("test Dice", "test accuracy")):
        texts = []
        for method, ratio in shown:
            value = means.loc[method, column]
            ax.scatter([ratio], [value], color=color(method), s=36, edgecolor="black",
                       linewidth=0.4, zorder=2)
            point = short(method) + (f" ({progress[method][0]}/{progress[method][1]})"
                                     if method in progress else "")
            texts.append(ax.text(ratio, value, point, fontsize=LABEL_SIZE - 1))
        names.append(texts)
        ax.axvline(1.0, color="grey", lw=0.6, ls=":")
        ax.set_ylabel(name, fontsize=LABEL_SIZE)
        ax.tick_params(labelsize=LABEL_SIZE - 1, labelbottom=True)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("CPU time per step / EW", fontsize=LABEL_SIZE)
    if missing:
        fig.text(0.01, 0.01, "pending: " + ", ".join(missing), fontsize=LABEL_SIZE - 1,
                 wrap=True)
    fig.tight_layout(rect=(0, 0.06 if missing else 0, 1, 1))
    # after the layout: adjustText moves the names within the axes' final size
    for ax, column, texts in zip(axes, columns, names):
        if texts:
            adjust_text(texts, x=[ratio for _, ratio in shown],
                        y=[means.loc[method, column] for method, _ in shown], ax=ax,
                        expand=(1.3, 1.8), force_text=(0.3, 0.6), force_explode=(0.3, 0.8),
                        arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.5})
    return fig


def pending(runs: pd.DataFrame) -> list[str]:
    """Methods with no finished run yet."""
    done = set(runs.loc[runs["status"] == "done", "method"])
    return [short(m) for m in dict.fromkeys(runs["method"]) if m not in done]


def partial(runs: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Methods with some but not all of their runs finished -> (finished, planned)."""
    out = {}
    for method, group in runs.groupby("method", sort=False):
        done = int((group["status"] == "done").sum())
        if 0 < done < len(group):
            out[method] = (done, len(group))
    return out


def count(runs: pd.DataFrame) -> tuple[int, int]:
    """(finished, planned) runs of the benchmark."""
    return int((runs["status"] == "done").sum()), len(runs)

