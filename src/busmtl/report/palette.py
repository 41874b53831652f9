"""Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008), by name.

The one source of colours: each method's record (:mod:`busmtl.weighting`) picks one, and the
figures (:mod:`busmtl.report.colors`) draw tasks, ground truth and predictions from it.
"""

from __future__ import annotations

#: Okabe-Ito palette, by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}
