"""The results chapter's first paragraph: does ATDWA beat DWA and EW, on the leak-free protocol
first and on the paper's protocol beside it, with intervals that account for seeds, folds and
test images together.

**The interval.** The runs of a comparison form a crossed design: every (seed, fold) run of a
method is scored on the same test images, so the per-image difference ``d[s, f, i]`` between
two methods is paired within each cell. :func:`crossed_bootstrap` resamples seeds, folds and
test images *independently* (each with replacement) and averages ``d`` over the resampled
cells; the 2.5 and 97.5 % quantiles of 2,000 such means give the 95 % interval. It treats the
five folds as a sample of possible training sets, which they are not quite: their training sets
overlap by three quarters, so fold-to-fold variation (and the interval) is understated when
folds are few; the chapter says so where fold intervals appear.

**Seed variation** (:func:`seed_spread`): for each method and fold, the standard deviation of a
metric over the seeds, averaged over methods and folds: the part of a single run's score that
is luck of initialisation, data order and augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from busmtl.report.colors import label
from busmtl.report.numbers import MINUS, interval, signed
from busmtl.report.paper_values import TABLE2

#: The two headline metrics: name, per-image column, run-level column of ``metrics.json``.
METRICS: dict[str, tuple[str, str]] = {"Dice": ("seg_dice", "test_seg_dice"),
                                       "accuracy": ("cls_correct", "test_cls_acc")}
#: Paper key of each headline metric (its Table II).
PAPER_KEYS: dict[str, str] = {"Dice": "seg_dice", "accuracy": "cls_acc"}


@dataclass(frozen=True)
class Estimate:
    """A difference ``a - b`` with its 95 % interval and what it rests on."""

    value: float
    low: float
    high: float
    cells: int  # (seed, fold) runs of both methods
    images: int

    @property
    def clear(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self) -> str:
        return f"{signed(self.value)} {interval(self.low, self.high)}"


def paired_cube(per_image: pd.DataFrame, a: str, b: str, column: str) -> np.ndarray:
    """``d[s, f, i]`` = ``column`` of ``a`` minus that of ``b`` on test image ``i`` in the run of
    seed ``s`` and fold ``f`` (NaN where either run is missing)."""
    if per_image.empty or "method" not in per_image or column not in per_image:
        return np.empty((0, 0, 0))
    frame = per_image[per_image["method"].isin([a, b])]
    if "seed" not in frame:
        frame = frame.assign(seed=0)
    wide = frame.pivot_table(index=["seed", "fold", "id"], columns="method", values=column)
    if a not in wide or b not in wide:
        return np.empty((0, 0, 0))
    diff = (wide[a] - wide[b]).astype(float)
    seeds = sorted(diff.index.get_level_values("seed").unique())
    folds = sorted(diff.index.get_level_values("fold").unique())
    images = sorted(diff.index.get_level_values("id").unique())
    cube = np.full((len(seeds), len(folds), len(images)), np.nan)
    pos_s, pos_f, pos_i = ({v: k for k, v in enumerate(x)} for x in (seeds, folds, images))
    for (s, f, i), v in diff.items():
        cube[pos_s[s], pos_f[f], pos_i[i]] = v
    return cube


def crossed_bootstrap(cube: np.ndarray, n: int = 2000, seed: int = 0) -> Estimate | None:
    """Mean of ``cube`` with a 95 % interval from resampling seeds, folds and images
    independently (module docstring); ``None`` without a single complete cell.

    A resample draws ``n_s`` seeds, ``n_f`` folds and ``n_i`` images with replacement; its mean
    over the non-missing cells of ``cube[seeds][:, folds][:, :, images]`` only depends on how
    often each seed, fold and image was drawn (``c_s``, ``c_f``, ``c_i``):
    ``sum c_s c_f c_i d[s, f, i] / sum c_s c_f c_i [d[s, f, i] present]``, which gives all ``n``
    means at once without building the resampled cubes."""
    if cube.size == 0:
        return None
    complete = ~np.isnan(cube).all(axis=2)
    if not complete.any():
        return None
    rng = np.random.default_rng(seed)
    n_i = cube.shape[2]
    counts = [np.zeros((n, size)) for size in cube.shape]
    for k in range(n):  # one resample after the other, so the draws follow the seed's stream
        for axis_counts, size in zip(counts, cube.shape, strict=True):
            axis_counts[k] = np.bincount(rng.integers(0, size, size), minlength=size)
    present = ~np.isnan(cube)
    totals = np.einsum("ks,kf,ki,sfi->k", *counts, np.where(present, cube, 0.0))
    cells = np.einsum("ks,kf,ki,sfi->k", *counts, present.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(cells > 0, totals / cells, np.nan)
    low, high = np.nanquantile(means, [0.025, 0.975])
    return Estimate(float(np.nanmean(cube)), float(low), float(high), int(complete.sum()), n_i)


def seed_spread(runs: pd.DataFrame, column: str) -> float:
    """Mean over methods and folds of the standard deviation over seeds of ``column`` (NaN
    with fewer than two seeds of any method and fold)."""
    done = runs[runs["status"] == "done"]
    if "seed" not in done or column not in done:
        return float("nan")
    sds = done.groupby(["method", "fold"])[column].std(ddof=1).dropna()
    return float(sds.mean()) if len(sds) else float("nan")


def comparisons(per_image: pd.DataFrame, a: str = "atdwa",
                rivals: tuple[str, ...] = ("dwa", "ew")) -> dict[tuple[str, str], Estimate | None]:
    """(rival, metric) -> the crossed-bootstrap estimate of ``a - rival``."""
    return {(rival, metric): crossed_bootstrap(paired_cube(per_image, a, rival, column))
            for rival in rivals for metric, (column, _) in METRICS.items()}


def short(method: str) -> str:
    """The method's display name without its parenthesis (``EW (SSC-ResNet)`` -> ``EW``)."""
    return label(method).split(" (")[0]


def change(e: Estimate) -> str:
    """``"0.013 lower [−0.046, +0.018]"``: size, direction and interval in words."""
    word = "higher" if e.value > 0 else "lower"
    bounds = interval(e.low, e.high)
    return f"{abs(e.value):.3f} {word} {bounds}"


def paper_difference(a: str, b: str, metric: str) -> float:
    key = PAPER_KEYS[metric]
    return TABLE2[a][key] - TABLE2[b][key]


def headline_table(grouped: dict, paper: dict, a: str = "atdwa",
                   rivals: tuple[str, ...] = ("dwa", "ew")) -> pd.DataFrame:
    """One row per (rival, metric): the paper's reported difference, ours on the leak-free
    protocol and ours on the paper's protocol (estimate and 95 % interval)."""
    rows = []
    for rival in rivals:
        for metric in METRICS:
            g, p = grouped.get((rival, metric)), paper.get((rival, metric))
            rows.append({
                "difference": f"{short(a)} {MINUS} {short(rival)}, {metric}",
                "paper (reported)": signed(paper_difference(a, rival, metric)),
                "ours, leak-free": g.text() if g else "pending",
                "ours, paper's split": p.text() if p else "pending",
            })
    return pd.DataFrame(rows)


def first_sentence(grouped: dict, paper: dict, n_done: int, n_planned: int,
                   a: str = "atdwa", rivals: tuple[str, ...] = ("dwa", "ew")) -> str:
    """The answer with direction and size, on the leak-free protocol when any of its runs has
    finished, else on the paper's protocol (saying that the leak-free runs are pending)."""
    leak_free = any(grouped.values())
    source = grouped if leak_free else paper
    parts = []
    for i, rival in enumerate(rivals):
        dice, acc = source.get((rival, "Dice")), source.get((rival, "accuracy"))
        if dice is None or acc is None:
            continue
        who = f"{short(a)}'s Dice" if i == 0 else "its Dice"
        parts.append(f"against {short(rival)}, {who} is {change(dice)} and its accuracy "
                     f"{change(acc)}")
    if not parts:
        return (f"No run of {short(a)} and its rivals has finished yet on either protocol "
                f"({n_done} of {n_planned} leak-free runs done).")
    estimates = [e for e in source.values() if e]
    clear = [e for e in estimates if e.clear]
    verdict = ("Every interval holds zero: no difference is clear." if not clear else
               f"{len(clear)} of {len(estimates)} intervals exclude zero.")
    cells = min(e.cells for e in estimates)
    if cells < 3:
        verdict += (f" These rest on {cells} run(s) per method so far: the intervals cover the "
                    "test images, hardly the seeds and folds, and will widen as runs finish.")
    if leak_free:
        where = ("On the leak-free protocol" if n_done == n_planned else
                 f"On the leak-free protocol ({n_done} of {n_planned} runs finished so far)")
    elif n_done:
        where = (f"On the leak-free protocol {n_done} of {n_planned} runs have finished, none "
                 f"yet of {short(a)} beside a rival on the same fold and seed; on the paper's "
                 "protocol")
    else:
        where = f"No leak-free run has finished yet ({n_planned} planned); on the paper's protocol"
    return f"{where}, " + "; ".join(parts) + f". {verdict}"


def budgets_line(ours: str = "busi-cpu-grouped") -> str:
    """The paper's budget and ours side by side, from the two profiles."""
    from busmtl.config import make_config

    def budget(cfg, epochs: str | None = None) -> str:
        init = "ImageNet" if cfg.encoder_weights else "random initialisation"
        cap = "at most " if cfg.early_stopping_patience < cfg.epochs else ""
        return (f"{cfg.prepare_size} px, {cfg.encoder.replace('resnet', 'ResNet-')} from "
                f"{init}, {epochs or f'{cap}{cfg.epochs} epochs'}")

    paper = make_config("paper")
    # the paper states its early stopping but no cap on the epochs (the paper profile's cap is
    # this project's choice)
    stops = f"until early stopping (patience {paper.early_stopping_patience}, no cap stated)"
    return (f"Budgets: the paper trains at {budget(paper, stops)} on a GPU; these runs "
            f"at {budget(make_config(ours))} on a 2-core CPU.")


def seed_line(grouped_runs: pd.DataFrame, grouped: dict) -> str:
    """How large the seed-to-seed variation is next to the method differences."""
    dice = seed_spread(grouped_runs, METRICS["Dice"][1])
    acc = seed_spread(grouped_runs, METRICS["accuracy"][1])
    if np.isnan(dice):
        return ("Seed-to-seed variation cannot be measured yet: no method and fold has two "
                "finished seeds.")
    diffs = [abs(e.value) for e in grouped.values() if e]
    rivals = " or ".join(dict.fromkeys(short(rival) for rival, _ in grouped))
    biggest = (f" ATDWA's largest difference to {rivals} on the leak-free protocol is "
               f"{max(diffs):.3f}." if diffs
               else "")
    done = grouped_runs[grouped_runs["status"] == "done"]
    seeds = done.groupby(["method", "fold"])["seed"].nunique()
    pairs = int((seeds >= 2).sum())
    where = ("from the one method and fold with two or more finished seeds so far, a rough "
             "first measure" if pairs == 1 else
             f"averaged over the {pairs} (method, fold) pairs with two or more finished seeds")
    return (f"Re-running one method on one fold with another seed moves its test Dice by "
            f"{dice:.3f} and its accuracy by {acc:.3f} (standard deviation over seeds, "
            f"{where}).{biggest}")


def method_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method of a seeded profile: test Dice and accuracy, mean ± standard deviation over
    the finished (seed, fold) runs with ``n/N`` while some are pending, ``pending`` without any;
    runs with a collapsed classifier counted in their own column."""
    from busmtl.report.tables import COLLAPSED_MARK, mean_sd_cell, mean_std

    def cell(r: pd.Series) -> str:
        if int(r["n"]) == 0:
            return "pending"
        if int(r["n"]) == 1:  # one run: no spread to show
            return f"{r['mean']:.3f} (1/{int(r['expected'])})"
        return mean_sd_cell(r["mean"], r["std"], r["n"], r["expected"], 3)

    rows = []
    dice, acc = mean_std(runs, "test_seg_dice"), mean_std(runs, "test_cls_acc")
    for method in dict.fromkeys(runs["method"]):
        d, a = dice.loc[method], acc.loc[method]
        group = runs[(runs["method"] == method) & (runs["status"] == "done")]
        collapsed = int(group["collapsed"].sum()) if "collapsed" in group else 0
        rows.append({
            "method": short(method),
            "test Dice": cell(d),
            "test accuracy": cell(a),
            f"collapsed {COLLAPSED_MARK}": collapsed,
        })
    return pd.DataFrame(rows)
