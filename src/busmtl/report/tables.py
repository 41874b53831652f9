"""The book's tables (analogues of the primary paper's Tables I-III), as DataFrames of strings.

Cells are ``mean ± std`` over the folds that finished; a method with fewer finished folds than
expected says so (``n/N``), and a method without any is shown as ``missing``. The best value per
column is wrapped in ``**...**`` (rendered bold by :func:`to_html`).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from busmtl.report.colors import label
from busmtl.report.paper_values import METRIC_NAMES, METRICS, TABLE1, TABLE1_METRICS, TABLE2, TABLE3

MISSING = "missing"


def _done(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "done"]


def mean_std(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per method: mean, std (ddof 1; 0 for one fold), number done and expected."""
    rows = []
    for method, group in runs.groupby("method", sort=False):
        values = _done(group)[column].astype(float) if column in group else pd.Series(dtype=float)
        values = values.dropna()
        rows.append({"method": method, "mean": values.mean() if len(values) else np.nan,
                     "std": values.std(ddof=1) if len(values) > 1 else 0.0,
                     "n": len(values), "expected": len(group)})
    return pd.DataFrame(rows).set_index("method")


def _cell(mean: float, std: float, n: int, expected: int, digits: int) -> str:
    n, expected = int(n), int(expected)
    if n == 0 or np.isnan(mean):
        return MISSING
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    return text if n == expected else f"{text} ({n}/{expected})"


def _bold_best(frame: pd.DataFrame, means: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    out = frame.copy()
    for col in means.columns:
        values = means[col].dropna()
        if values.empty:
            continue
        best = values.max() if higher_is_better else values.min()
        for method in values.index[np.isclose(values, best)]:
            out.loc[method, col] = f"**{out.loc[method, col]}**"
    return out


def table2(runs: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Every method x every metric of the paper's Table II, on the test set, best bold."""
    cells, means = {}, {}
    for metric in METRICS:
        stats = mean_std(runs, f"test_{metric}")
        cells[METRIC_NAMES[metric]] = [_cell(r["mean"], r["std"], r["n"], r["expected"], digits)
                                       for _, r in stats.iterrows()]
        means[METRIC_NAMES[metric]] = stats["mean"]
    index = list(stats.index)
    frame = pd.DataFrame(cells, index=index)
    frame = _bold_best(frame, pd.DataFrame(means, index=index))
    frame.index = [label(m) for m in frame.index]
    frame.index.name = "method"
    return frame


def table2_vs_paper(runs: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """For the paper's four methods: this companion's mean, the paper's value, and the difference."""
    means = {metric: mean_std(runs, f"test_{metric}")["mean"] for metric in METRICS}
    rows = []
    for method, paper in TABLE2.items():
        for kind in ("this companion", "paper", "difference"):
            row = {"method": label(method), "source": kind}
            for metric in METRICS:
                ours = float(means[metric].get(method, np.nan))  # NaN: no finished run
                value = {"this companion": ours, "paper": paper[metric],
                         "difference": ours - paper[metric]}[kind]
                row[METRIC_NAMES[metric]] = MISSING if np.isnan(value) else (
                    f"{value:+.{digits}f}" if kind == "difference" else f"{value:.{digits}f}")
            rows.append(row)
    return pd.DataFrame(rows).set_index(["method", "source"])


def table1(runs: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The paper's comparison with prior work (cited values) plus this companion's ATDWA row."""
    rows = {name: {METRIC_NAMES[m]: ("NA" if v is None else f"{v:.{digits}f}") for m, v in values.items()}
            for name, values in TABLE1.items()}
    ours = runs[runs["method"] == "atdwa"]
    row = {}
    for metric in TABLE1_METRICS:
        stats = mean_std(ours, f"test_{metric}") if len(ours) else pd.DataFrame()
        ok = len(stats) and stats["n"].iloc[0] > 0
        row[METRIC_NAMES[metric]] = (_cell(*stats.iloc[0][["mean", "std", "n", "expected"]], digits)
                                     if ok else MISSING)
    rows["ATDWA (this companion)"] = row
    frame = pd.DataFrame(rows).T[[METRIC_NAMES[m] for m in TABLE1_METRICS]]
    frame.index.name = "model"
    return frame


EFFICIENCY = {
    "peak_memory_mb": "Peak memory (MB)",
    "step_time_ms_max": "Longest step (ms)",
    "step_time_ms_median": "Median step (ms)",
    "epoch_time_s_max": "Longest epoch (s)",
    "epoch_time_s_median": "Median epoch (s)",
}


def table3(runs: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Efficiency per method (mean over folds) and its ratio to equal weighting (``ew``)."""
    frame = pd.DataFrame(index=list(dict.fromkeys(runs["method"])))
    base: dict[str, float] = {}
    for key, name in EFFICIENCY.items():
        stats = mean_std(runs, key)
        base[key] = float(stats.loc["ew", "mean"]) if "ew" in stats.index else np.nan
        frame[name] = [MISSING if r["n"] == 0 else f"{r['mean']:.{digits}f}" for _, r in stats.iterrows()]
        frame[f"{name.split(' (')[0]} / EW"] = [
            MISSING if r["n"] == 0 or np.isnan(base[key]) else f"{r['mean'] / base[key]:.2f}x"
            for _, r in stats.iterrows()]
    frame.index = [label(m) for m in frame.index]
    frame.index.name = "method"
    return frame


def table3_paper() -> pd.DataFrame:
    """The paper's Table III with ratios to SSC-ResNet (equal weighting)."""
    base = TABLE3["ew"]
    rows = {}
    for method, v in TABLE3.items():
        rows[label(method)] = {
            "Peak memory (GB)": f"{v['memory_gb']:.4f}", "Memory / EW": f"{v['memory_gb'] / base['memory_gb']:.2f}x",
            "Longest step (ms)": f"{v['step_ms_max']:.1f}", "Step / EW": f"{v['step_ms_max'] / base['step_ms_max']:.2f}x",
            "Longest epoch (s)": f"{v['epoch_s_max']:.1f}", "Epoch / EW": f"{v['epoch_s_max'] / base['epoch_s_max']:.2f}x",
        }
    frame = pd.DataFrame(rows).T
    frame.index.name = "method"
    return frame


def to_html(frame: pd.DataFrame) -> str:
    """HTML table; ``**x**`` cells become bold, everything else is escaped."""
    def fmt(value: object) -> str:
        text = str(value)
        if text.startswith("**") and text.endswith("**"):
            return f"<b>{html.escape(text[2:-2])}</b>"
        return html.escape(text)

    return frame.map(fmt).to_html(escape=False, classes="busmtl-table", border=0)
