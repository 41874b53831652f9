"""Paired comparison of each method with equal weighting across folds (same folds, same test set).

For every metric: the mean paired difference (method - ew), the Wilcoxon signed-rank p-value and
the paired t-test p-value (scipy). With 5 folds the smallest two-sided Wilcoxon p-value is
0.0625, so a difference can only be called clear when the paired t-test agrees; the table says
how many folds were paired.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from busmtl.report.colors import label
from busmtl.report.paper_values import METRIC_NAMES, METRICS


def paired_vs_baseline(runs: pd.DataFrame, baseline: str = "ew", alpha: float = 0.05) -> pd.DataFrame:
    """One row per (method, metric): n folds paired, mean difference, Wilcoxon p, t-test p, verdict."""
    done = runs[runs["status"] == "done"]
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
            verdict = "n/a" if np.isnan(p_t) else (
                ("better" if diff.mean() > 0 else "worse") if p_t < alpha else "within fold noise")
            rows.append({"method": label(method), "metric": METRIC_NAMES[metric], "folds": len(diff),
                         "mean difference": float(diff.mean()) if len(diff) else np.nan,
                         "Wilcoxon p": p_w, "paired t p": p_t, "verdict": verdict})
    return pd.DataFrame(rows)


def paired_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The table of :func:`paired_vs_baseline` as metric x method cells of the form
    ``+0.0123 (p 0.04) better``: mean difference, paired t-test p-value, and the verdict when the
    difference is clear. ``identical`` when the method equals the baseline on every fold."""
    def cell(row: pd.Series) -> str:
        if row["folds"] == 0:
            return "no paired folds"
        if np.isnan(row["paired t p"]):
            return "identical" if row["mean difference"] == 0 else f"{row['mean difference']:+.4f}"
        text = f"{row['mean difference']:+.4f} (p {row['paired t p']:.2f})"
        return f"**{text} {row['verdict']}**" if row["verdict"] in ("better", "worse") else text

    if table.empty:
        return pd.DataFrame()
    cells = table.assign(cell=table.apply(cell, axis=1))
    out = cells.pivot(index="metric", columns="method", values="cell")
    out = out.loc[list(dict.fromkeys(table["metric"])), list(dict.fromkeys(table["method"]))]
    out.columns.name = None
    return out
