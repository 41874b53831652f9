"""Paired comparisons of weighting methods: per fold and per test image.

Every method is trained on the same five folds and evaluated on the same held-out test images,
so comparisons are paired twice over:

* **over folds** (:func:`fold_difference`): the difference of a test metric between two methods
  on the same fold, ``d_f = m_A(f) - m_B(f)``; its mean over the ``n`` folds with a 95 %
  confidence interval from the t distribution, ``mean(d) ± t_{0.975, n-1} sd(d) / sqrt(n)``, and
  the paired t-test p-value. This is the uncertainty from training (fold data, initialisation).
* **over test images** (:func:`image_bootstrap`): for each test image ``i`` the difference of a
  per-image value averaged over the folds both methods finished,
  ``d_i = mean_f (v_A(i, f) - v_B(i, f))``, then a percentile bootstrap of ``mean_i d_i`` over
  images (10,000 resamples, seeded). This is the uncertainty from which images happen to be in
  the test set.

A difference is called clear only when its 95 % interval excludes zero (:func:`verdict`).
:func:`paired_vs_baseline` tabulates the fold-level comparison of every method with equal
weighting. With five folds the Wilcoxon signed-rank test cannot go below p = 0.0625, so it is
shown only as a check of the sign's consistency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
from scipy import stats

from busmtl.report.colors import label
from busmtl.report.numbers import MINUS, interval, signed
from busmtl.report.paper_values import METRIC_NAMES, METRICS

#: Resamples of the per-image bootstrap.
BOOTSTRAP_RESAMPLES: int = 10_000
#: Confidence level of every interval in the book.
CONFIDENCE: float = 0.95


def verdict(low: float, high: float, higher_is_better: bool = True) -> str:
    """``better`` / ``worse`` when the interval ``[low, high]`` of ``A - B`` excludes 0, else
    ``no clear difference`` (``n/a`` without an interval)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a"
    if low > 0:
        return "better" if higher_is_better else "worse"
    if high < 0:
        return "worse" if higher_is_better else "better"
    return "no clear difference"


@dataclass
class Difference:
    """A paired difference ``A - B`` with its confidence interval."""

    a: str
    b: str
    metric: str
    n: int  # folds (fold_difference) or images (image_bootstrap) paired
    mean: float
    low: float
    high: float
    p: float = float("nan")  # paired t-test p-value (folds only)
    per_unit: np.ndarray | None = None  # the n paired differences

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high)

    def text(self, digits: int = 3) -> str:
        """``+0.012 [−0.004, +0.028]``."""
        if not np.isfinite(self.mean):
            return "n/a"
        if not (np.isfinite(self.low) and np.isfinite(self.high)):
            return f"{signed(self.mean, digits)} (n = {self.n}, no interval)"
        return f"{signed(self.mean, digits)} {interval(self.low, self.high, digits)}"


def _done(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "done"]


def t_quantile(n: int) -> float:
    """The t quantile that multiplies the standard error of a mean over ``n`` paired values in
    a :data:`CONFIDENCE` interval (``n - 1`` degrees of freedom)."""
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def fold_overlap_text(n_folds: int) -> str:
    """How much of their training images two folds share in words: with ``k`` folds each trains
    on ``k - 1`` parts (one validates), two of them on ``k - 2`` common parts, a share of
    ``(k - 2) / (k - 1)`` (``"three quarters"`` for five folds)."""
    if n_folds < 3:
        return "none"
    share = Fraction(n_folds - 2, n_folds - 1)
    words = {Fraction(1, 2): "half", Fraction(2, 3): "two thirds",
             Fraction(3, 4): "three quarters", Fraction(4, 5): "four fifths"}
    return words.get(share, f"{share.numerator}/{share.denominator}")


def fold_difference(runs: pd.DataFrame, a: str, b: str, metric: str) -> Difference:
    """``A - B`` of test metric ``metric`` (e.g. ``seg_dice``) over the folds both finished, with a
    t-based 95 % interval and the paired t-test p-value (NaN below two folds)."""
    done = _done(runs)
    col = f"test_{metric}"
    if col not in done:  # no finished run at all
        return Difference(a, b, metric, 0, np.nan, np.nan, np.nan)
    va = done[done["method"] == a].set_index("fold")[col]
    vb = done[done["method"] == b].set_index("fold")[col]
    folds = sorted(set(va.index) & set(vb.index))
    diff = (va.loc[folds].to_numpy(float) - vb.loc[folds].to_numpy(float)) if folds else np.array([])
    n = len(diff)
    if n == 0:
        return Difference(a, b, metric, 0, np.nan, np.nan, np.nan)
    mean = float(diff.mean())
    if n < 2:
        return Difference(a, b, metric, n, mean, np.nan, np.nan, per_unit=diff)
    sd = float(diff.std(ddof=1))
    if sd == 0:
        return Difference(a, b, metric, n, mean, mean, mean, 0.0 if mean else 1.0, diff)
    half = t_quantile(n) * sd / np.sqrt(n)
    p = float(stats.ttest_rel(va.loc[folds], vb.loc[folds]).pvalue)
    return Difference(a, b, metric, n, mean, mean - half, mean + half, p, diff)


def image_bootstrap(per_image: pd.DataFrame, a: str, b: str, column: str,
                    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Difference:
    """Per-image paired bootstrap of ``A - B`` for ``column`` of ``per_image.csv`` (e.g.
    ``seg_dice``, ``cls_correct``): differences averaged over common folds per image, then a
    percentile interval of their mean over ``resamples`` resamples of the images."""
    if per_image.empty:
        return Difference(a, b, column, 0, np.nan, np.nan, np.nan)
    pa = per_image[per_image["method"] == a]
    pb = per_image[per_image["method"] == b]
    folds = sorted(set(pa["fold"]) & set(pb["fold"]))
    if not folds:
        return Difference(a, b, column, 0, np.nan, np.nan, np.nan)
    wa = pa[pa["fold"].isin(folds)].pivot(index="id", columns="fold", values=column)
    wb = pb[pb["fold"].isin(folds)].pivot(index="id", columns="fold", values=column)
    ids = wa.index.intersection(wb.index)
    d = (wa.loc[ids, folds].to_numpy(float) - wb.loc[ids, folds].to_numpy(float)).mean(axis=1)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Difference(a, b, column, len(d), float(d.mean()), float(low), float(high), per_unit=d)


def comparison_table(runs: pd.DataFrame, per_image: pd.DataFrame,
                     pairs: list[tuple[str, str]],
                     metrics: tuple[str, ...] = ("seg_dice", "cls_acc"),
                     name: Callable[[str], str] = label) -> pd.DataFrame:
    """One row per (pair, metric): the mean difference with its 95 % interval and verdict over
    folds and over test images. Per-image columns: ``seg_dice`` -> ``seg_dice``,
    ``cls_acc`` -> ``cls_correct``. ``name`` shows a ``method`` value (the method's label)."""
    image_column = {"cls_acc": "cls_correct"}
    rows = []
    for a, b in pairs:
        for metric in metrics:
            f = fold_difference(runs, a, b, metric)
            i = image_bootstrap(per_image, a, b, image_column.get(metric, metric))
            rows.append({
                "comparison": f"{name(a)} {MINUS} {name(b)}", "metric": METRIC_NAMES[metric],
                "folds": f.n, "over folds": f.text(), "verdict (folds)": f.verdict,
                "images": i.n, "over test images": i.text(), "verdict (images)": i.verdict,
            })
    return pd.DataFrame(rows)


def paired_vs_baseline(runs: pd.DataFrame, baseline: str = "ew", alpha: float = 0.05) -> pd.DataFrame:
    """One row per (method, metric): n folds paired, mean difference, Wilcoxon p, t-test p, verdict."""
    done = _done(runs)
    base = done[done["method"] == baseline].set_index("fold")
    rows = []
    for method in dict.fromkeys(done["method"]):
        if method == baseline:
            continue
        other = done[done["method"] == method].set_index("fold")
        folds = sorted(set(base.index) & set(other.index))
        for metric in METRICS:
            col = f"test_{metric}"
            a = other.loc[folds, col].to_numpy(float) if folds else np.array([])
            b = base.loc[folds, col].to_numpy(float) if folds else np.array([])
            diff = a - b
            p_w = p_t = np.nan
            if len(diff) >= 2 and np.any(diff != 0):
                p_w = float(stats.wilcoxon(a, b, zero_method="zsplit").pvalue)
                p_t = float(stats.ttest_rel(a, b).pvalue) if np.std(diff) > 0 else 0.0
            verdict_text = "n/a" if np.isnan(p_t) else (
                ("better" if diff.mean() > 0 else "worse") if p_t < alpha else "within fold noise")
            rows.append({"method": label(method), "metric": METRIC_NAMES[metric], "folds": len(diff),
                         "mean difference": float(diff.mean()) if len(diff) else np.nan,
                         "Wilcoxon p": p_w, "paired t p": p_t, "verdict": verdict_text})
    return pd.DataFrame(rows)


def paired_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The table of :func:`paired_vs_baseline` as metric x method cells of the form
    ``+0.0123 (p 0.04) better``: mean difference, paired t-test p-value, and the verdict when the
    difference is clear. ``identical`` when the method equals the baseline on every fold."""
    def cell(row: pd.Series) -> str:
        if row["folds"] == 0:
            return "no paired folds"
        if np.isnan(row["paired t p"]):
            return "identical" if row["mean difference"] == 0 else signed(row["mean difference"])
        text = f"{signed(row['mean difference'])} (p {row['paired t p']:.2f})"
        return f"**{text} {row['verdict']}**" if row["verdict"] in ("better", "worse") else text

    if table.empty:
        return pd.DataFrame()
    cells = table.assign(cell=table.apply(cell, axis=1))
    out = cells.pivot(index="metric", columns="method", values="cell")
    out = out.loc[list(dict.fromkeys(table["metric"])), list(dict.fromkeys(table["method"]))]
    out.columns.name = None
    return out
