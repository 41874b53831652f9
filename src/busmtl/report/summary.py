"""The sentences that open the results chapter: does ATDWA beat DWA and EW, by how much, how sure.

Everything is computed from the runs (:mod:`busmtl.report.stats`); the chapter pastes the text
with ``{glue:text}``. A difference is called clear only when its 95 % interval excludes zero,
over the folds *and* over the test images; otherwise the text says there is no clear difference.
"""

from __future__ import annotations

import pandas as pd

from busmtl.report.colors import label
from busmtl.report.stats import Difference, fold_difference, image_bootstrap

#: Metric -> (name in prose, column of per_image.csv).
HEADLINE_METRICS: dict[str, tuple[str, str]] = {
    "seg_dice": ("test Dice", "seg_dice"),
    "cls_acc": ("test accuracy", "cls_correct"),
}


def differences(runs: pd.DataFrame, per_image: pd.DataFrame, a: str,
                b: str) -> dict[str, tuple[Difference, Difference]]:
    """Metric -> (over folds, over test images) differences ``a - b``."""
    return {metric: (fold_difference(runs, a, b, metric), image_bootstrap(per_image, a, b, column))
            for metric, (_, column) in HEADLINE_METRICS.items()}


def _clear(pair: tuple[Difference, Difference]) -> str | None:
    folds, images = pair
    if folds.verdict == images.verdict and folds.verdict in ("better", "worse"):
        return folds.verdict
    return None


def answer(runs: pd.DataFrame, per_image: pd.DataFrame, a: str = "atdwa",
           rivals: tuple[str, ...] = ("dwa", "ew")) -> tuple[str, str]:
    """``(verdict, details)``: the verdict sentence (clear only when the intervals over folds and
    over images both exclude zero, with a note where only one does), then for each rival the
    Dice and accuracy differences with their 95 % intervals."""
    done = set(runs.loc[runs["status"] == "done", "method"])
    present = [r for r in rivals if r in done]
    if a not in done or not present:
        missing = ", ".join(label(m) for m in (a, *rivals) if m not in done)
        return f"The comparison cannot be made in this build: no finished run of {missing}.", ""
    parts, clear, mixed = [], [], []
    for rival in present:
        diffs = differences(runs, per_image, a, rival)
        pieces = []
        for metric, pair in diffs.items():
            name = HEADLINE_METRICS[metric][0]
            folds, images = pair
            pieces.append(f"{name} by {folds.text()} over the {folds.n} folds "
                          f"({images.text()} over the {images.n} test images)")
            if (v := _clear(pair)) is not None:
                clear.append(f"{v} than {label(rival)} in {name}")
            else:
                for unit, d in (("test images", images), ("folds", folds)):
                    if d.verdict in ("better", "worse"):
                        leader = label(a) if d.verdict == "better" else label(rival)
                        other = "folds" if unit == "test images" else "test images"
                        mixed.append(f"the {name} of {leader} is higher over the {unit} but "
                                     f"not over the {other}")
        parts.append(f"Against {label(rival)}, {label(a)} differs in " + " and in ".join(pieces)
                     + ".")
    if clear:
        verdict = f"{label(a)} is clearly " + ", and ".join(clear) + " (both intervals exclude zero)"
        if len(clear) < len(present) * len(HEADLINE_METRICS):
            verdict += "; the other differences are not clear"
    else:
        verdict = (f"{label(a)} does not clearly beat " + " or ".join(label(r) for r in present)
                   + ": no difference has 95 % intervals that exclude zero both over the folds "
                   "and over the test images")
    if mixed:
        verdict += " (" + "; ".join(mixed) + ")"
    return verdict + ".", " ".join(parts)
