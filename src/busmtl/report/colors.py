"""Colours and line styles of the book's figures, from one colour-blind-safe palette.

The palette is Okabe & Ito's eight colours ("Color Universal Design", 2008), distinguishable
under the common colour-vision deficiencies. Methods take their colour from their record in
:mod:`busmtl.weighting`; the ground truth is never a method colour: it is drawn as a **white
dashed** contour (:data:`TRUTH_STYLE`), predictions as solid contours in the method's colour.
"""

from __future__ import annotations

from busmtl.palette import OKABE_ITO

#: Resolution of every figure of the book and the run notebooks.
FIG_DPI: int = 150

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


def color(method: str) -> str:
    """The method's colour (from its record, :func:`busmtl.weighting.color`)."""
    from busmtl.weighting import color as method_color

    return method_color(method)


def label(method: str) -> str:
    """The method's display name (from its record, :func:`busmtl.weighting.label`)."""
    from busmtl.weighting import label as method_label

    return method_label(method)
