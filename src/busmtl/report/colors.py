"""Colours and line styles of the book's figures, from one colour-blind-safe palette.

The palette is Okabe & Ito's eight colours ("Color Universal Design", 2008), distinguishable
under the common colour-vision deficiencies. The paper's methods have fixed colours
(:data:`METHOD_COLORS`); any other registered method gets the next spare colour in registry order
(:func:`color`), so a new weighter needs no colour of its own. The ground truth is never a method colour: it is drawn as a **white
dashed** contour (:data:`TRUTH_STYLE`), predictions as solid contours in the method's colour.
"""

from __future__ import annotations

from busmtl.report.palette import OKABE_ITO

#: Resolution of every figure of the book and the run notebooks.
FIG_DPI: int = 150
#: Width of the book's text column in inches (672 px at 1280 px wide, 96 px per inch): a figure
#: this wide is shown at its own size, so its text keeps its point size on the page; a wider one
#: is shrunk with all its text.
PAGE_WIDTH_IN: float = 7.0

#: Task -> colour for per-task curves (blue and orange: far apart for every colour vision).
TASK_COLORS: dict[str, str] = {"seg": OKABE_ITO["blue"], "cls": OKABE_ITO["orange"]}
#: Task -> line style, so the two tasks also differ without colour.
TASK_STYLES: dict[str, str] = {"seg": "-", "cls": "-."}
#: Colour of single-series curves that belong to no task (e.g. a temperature).
NEUTRAL: str = OKABE_ITO["black"]

#: Ground-truth contours: white, dashed, drawn under the predictions.
TRUTH_STYLE: dict[str, object] = {"colors": "white", "linestyles": "dashed", "linewidths": 1.1}
#: A prediction contour of a single run (no method comparison): vermillion, solid.
PREDICTION_COLOR: str = OKABE_ITO["vermillion"]

#: Sizes shared by every figure (points).
TITLE_SIZE: float = 11.0
LABEL_SIZE: float = 10.0


#: Colours of the companion's original methods (Okabe-Ito; EW blue, ATDWA vermillion, ...).
METHOD_COLORS: dict[str, str] = {
    "ew": OKABE_ITO["blue"], "dwa": OKABE_ITO["sky_blue"], "atdwa": OKABE_ITO["vermillion"],
    "gradnorm": OKABE_ITO["reddish_purple"], "uw": OKABE_ITO["bluish_green"],
    "dbmtl": OKABE_ITO["orange"], "dmf_var": OKABE_ITO["yellow"], "dmf_mad": OKABE_ITO["grey"],
    "dmf_bayes": OKABE_ITO["black"],
}
#: Colours for the other methods, in registry order (matplotlib's tab10, then tab20's light ones).
SPARE_COLORS: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)


def color(method: str) -> str:
    """The method's colour: :data:`METHOD_COLORS`, else the next spare colour in registry order
    (stable while methods are only added); dark grey for an unknown name."""
    from busmtl.weighting import available

    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    others = [m for m in available() if m not in METHOD_COLORS]
    if method in others:
        return SPARE_COLORS[others.index(method) % len(SPARE_COLORS)]
    return "#444444"


def label(method: str) -> str:
    """The method's display name (from its record, :func:`busmtl.weighting.label`)."""
    from busmtl.weighting import label as method_label

    return method_label(method)


def legend_above(fig, ax, ncol: int, fontsize: float = LABEL_SIZE) -> None:
    """One legend for every panel of ``fig`` (the entries of ``ax``), in a band above the
    panels, which :meth:`~matplotlib.figure.Figure.tight_layout` then fits below it."""
    import math

    handles, labels = ax.get_legend_handles_labels()
    band = (0.1 + 0.28 * math.ceil(len(labels) / ncol)) / fig.get_figheight()  # in inches
    fig.legend(handles, labels, loc="upper center", ncol=ncol, frameon=False, fontsize=fontsize)
    fig.tight_layout(rect=(0, 0, 1, 1 - band))
