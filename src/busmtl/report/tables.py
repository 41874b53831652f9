"""The book's tables (analogues of the primary paper's Tables I-III), as DataFrames of strings.

Cells are ``mean ± std`` over the folds that finished; a method with fewer finished folds than
expected says so (``n/N``), and a method without any is shown as ``missing``.

A best value is bolded (``**...**``, rendered bold by :func:`to_html`) only when it is clearly
best: its paired difference with every other method over the folds has a 95 % interval above
zero (:func:`busmtl.report.stats.fold_difference`). Among ties nothing is bold. Classification
cells of a method with collapsed runs (one class predicted for >= 95 % of the test set) carry
:data:`COLLAPSED_MARK` and the number of such runs.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from busmtl.report.colors import label
from busmtl.report.numbers import signed
from busmtl.report.paper_values import METRIC_NAMES, METRICS, TABLE1, TABLE1_METRICS, TABLE2, TABLE3

PENDING = "pending"
#: Marker of classification cells that include collapsed classifiers.
COLLAPSED_MARK = "†"
#: Marker of a difference resting on one fold: its interval covers the test images only.
ONE_FOLD_MARK = "‡"


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


def mean_sd_cell(mean: float, std: float, n: int, expected: int, digits: int) -> str:
    n, expected = int(n), int(expected)
    if n == 0 or np.isnan(mean):
        return PENDING
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    return text if n == expected else f"{text} ({n}/{expected})"


def clear_best(runs: pd.DataFrame, metric: str) -> str | None:
    """The method whose mean test ``metric`` is highest *and* whose paired difference with every
    other method over the folds has a 95 % interval above zero; ``None`` when it ties with any."""
    from busmtl.report.stats import fold_difference

    means = mean_std(runs, f"test_{metric}")["mean"].dropna()
    if len(means) < 2:
        return None
    best = str(means.idxmax())
    for other in means.index:
        if other != best and fold_difference(runs, best, other, metric).verdict != "better":
            return None
    return best


def collapsed_counts(runs: pd.DataFrame) -> pd.Series:
    """Per method: how many finished runs have a collapsed classifier."""
    done = _done(runs)
    flags = done["collapsed"] if "collapsed" in done else pd.Series(False, index=done.index)
    return flags.astype(bool).groupby(done["method"], sort=False).sum().astype(int)


def table2(runs: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Every method x every metric of the paper's Table II, on the test set; a best value bold
    only when it is clearly best; classification cells marked where classifiers collapsed."""
    cells = {}
    collapsed = collapsed_counts(runs)
    for metric in METRICS:
        stats = mean_std(runs, f"test_{metric}")
        column = [mean_sd_cell(r["mean"], r["std"], r["n"], r["expected"], digits)
                  for _, r in stats.iterrows()]
        best = clear_best(runs, metric)
        for i, method in enumerate(stats.index):
            if method == best:
                column[i] = f"**{column[i]}**"
            k = int(collapsed.get(method, 0))
            if metric.startswith("cls_") and k and column[i] != PENDING:
                column[i] = f"{column[i]} {COLLAPSED_MARK}{k}"
        cells[METRIC_NAMES[metric]] = column
    index = list(stats.index)
    frame = pd.DataFrame(cells, index=index)
    frame.index = [label(m) for m in frame.index]
    frame.index.name = "method"
    return frame


def table2_vs_paper(runs: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
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
                row[METRIC_NAMES[metric]] = PENDING if np.isnan(value) else (
                    signed(value, digits) if kind == "difference" else f"{value:.{digits}f}")
            rows.append(row)
    return pd.DataFrame(rows).set_index(["method", "source"])


def table1(runs: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The paper's comparison with prior work (cited values) plus this companion's ATDWA row."""
    rows = {name: {METRIC_NAMES[m]: ("NA" if v is None else f"{v:.{digits}f}") for m, v in values.items()}
            for name, values in TABLE1.items()}
    ours = runs[runs["method"] == "atdwa"]
    row = {}
    for metric in TABLE1_METRICS:
        stats = mean_std(ours, f"test_{metric}") if len(ours) else pd.DataFrame()
        ok = len(stats) and stats["n"].iloc[0] > 0
        row[METRIC_NAMES[metric]] = (mean_sd_cell(*stats.iloc[0][["mean", "std", "n", "expected"]], digits)
                                     if ok else PENDING)
    rows["ATDWA (this companion)"] = row
    frame = pd.DataFrame(rows).T[[METRIC_NAMES[m] for m in TABLE1_METRICS]]
    frame.index.name = "model"
    return frame


EFFICIENCY = {
    "step_memory_mb": "Memory added by training (MiB)",
    "peak_memory_mb": "Peak memory (MiB)",
    "step_time_ms_max": "Longest step (ms)",
    "step_time_ms_median": "Median step (ms)",
    "epoch_time_s_max": "Longest epoch (s)",
    "epoch_time_s_median": "Median epoch (s)",
}


def ratio_cell(ratios: pd.Series) -> str:
    """``1.50x ± 0.04``: the mean and standard deviation of per-fold ratios to EW (no spread
    for one fold; ``pending`` for none)."""
    ratios = ratios.dropna()
    if not len(ratios):
        return PENDING
    spread = f" ± {ratios.std(ddof=1):.2f}" if len(ratios) > 1 else ""
    return f"{ratios.mean():.2f}x{spread}"


def fold_ratios(runs: pd.DataFrame, column: str, baseline: str = "ew") -> dict[str, pd.Series]:
    """Method -> ``column`` of each of its finished runs over the same fold's (and seed's)
    ``baseline`` run."""
    done = _done(runs)
    keys = [k for k in ("fold", "seed") if k in done.columns]
    if column not in done.columns:
        return {}
    base = done[done["method"] == baseline].set_index(keys)[column].astype(float)
    out = {}
    for method, group in done.groupby("method", sort=False):
        mine = group.set_index(keys)[column].astype(float)
        out[method] = (mine / base.reindex(mine.index)).dropna()
    return out


def table3(runs: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Efficiency per method (mean over folds) and its ratio to equal weighting (``ew``): the
    ratio of each run to EW's run of the same fold, mean ± standard deviation over the folds.

    "Memory added by training" is the peak minus the memory in use before the first step (on a
    CPU the whole-process peak is dominated by torch and the data); runs made before it was
    recorded show ``missing`` there."""
    frame = pd.DataFrame(index=list(dict.fromkeys(runs["method"])))
    for key, name in EFFICIENCY.items():
        stats = mean_std(runs, key)
        ratios = fold_ratios(runs, key)
        frame[name] = [PENDING if r["n"] == 0 else f"{r['mean']:.{digits}f}" for _, r in stats.iterrows()]
        frame[f"{name.split(' (')[0]} / EW"] = [
            ratio_cell(ratios.get(method, pd.Series(dtype=float))) for method in stats.index]
    frame.index = [label(m) for m in frame.index]
    frame.index.name = "method"
    return frame


#: MiB in the paper's GB (read as GiB, the unit GPU memory tools report).
MIB_PER_GB: int = 1024


def table3_paper() -> pd.DataFrame:
    """The paper's Table III with ratios to SSC-ResNet (equal weighting); its memory in MiB,
    the unit of the companion's tables."""
    base = TABLE3["ew"]
    rows = {}
    for method, v in TABLE3.items():
        rows[label(method)] = {
            "Peak memory (MiB)": f"{v['memory_gb'] * MIB_PER_GB:.0f}",
            "Memory / EW": f"{v['memory_gb'] / base['memory_gb']:.2f}x",
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


def md_table(frame: pd.DataFrame, index: bool = False) -> str:
    """``frame`` as a Markdown pipe table (cells as text, NaN/None empty; ``|`` escaped)."""
    data = frame.reset_index() if index else frame

    def cell(value: object) -> str:
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in data.columns) + " |",
             "|" + "|".join("---" for _ in data.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in data.itertuples(index=False)]
    return "\n".join(lines)


def myst_table(frame: pd.DataFrame, caption: str, name: str, index: bool = True,
               prose: bool = False):
    """A numbered MyST ``{table}`` (caption, ``:name:`` for ``{numref}``) holding ``frame`` as a
    Markdown table: a code cell returns it, or ``glue`` stores it for ``{glue:md}`` with
    ``:format: myst``. ``**x**`` cells stay bold; a wide table takes the
    column's width and its cells wrap between words (``busmtl.css``), so nothing hides behind a
    scroll bar. A colon fence, since a backtick fence's info string may not hold code in the
    caption. ``prose=True`` gives the last column of a table of sentences the most room."""
    from IPython.display import Markdown

    css = "busmtl-prose" if prose else "busmtl-table"
    return Markdown(f":::{{table}} {caption}\n:name: {name}\n:class: {css}\n\n"
                    f"{md_table(frame, index)}\n:::\n")
