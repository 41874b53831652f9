"""One colour and one display name per method, used by every figure of the book."""

from __future__ import annotations

import matplotlib.colors as mcolors

#: Resolution of every figure of the book and the run notebooks (the issue asks >= 150 dpi).
FIG_DPI: int = 150

#: Method -> colour (colour-blind-friendly tab10/Okabe-Ito picks; ATDWA stands out in red).
METHOD_COLORS: dict[str, str] = {
    "ew": "#bcbd22",
    "dwa": "#1f77b4",
    "atdwa": "#d62728",
    "gradnorm": "#2ca02c",
    "uw": "#9467bd",
    "dbmtl": "#ff7f0e",
    "dmf_var": "#17becf",
    "dmf_mad": "#8c564b",
    "dmf_bayes": "#e377c2",
}

#: Method -> name used in tables and legends.
METHOD_LABELS: dict[str, str] = {
    "ew": "EW (SSC-ResNet)",
    "dwa": "DWA",
    "atdwa": "ATDWA",
    "gradnorm": "GradNorm",
    "uw": "UW",
    "dbmtl": "DB-MTL",
    "dmf_var": "DMF-Var",
    "dmf_mad": "DMF-MAD",
    "dmf_bayes": "DMF-Bayes",
}

#: Task -> colour for per-task curves.
TASK_COLORS: dict[str, str] = {"seg": "#1b9e77", "cls": "#d95f02"}


def color(method: str) -> str:
    """The method's colour (a neutral grey for methods added later)."""
    return METHOD_COLORS.get(method, mcolors.to_hex("#444444"))


def label(method: str) -> str:
    """The method's display name."""
    return METHOD_LABELS.get(method, method)
