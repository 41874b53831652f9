"""The two seed systems beside the reference runs: paired contrasts across profiles.

Each companion profile of ``busi-cpu`` changes one setting (:data:`busmtl.config.PROFILES`):

* ``busi-cpu-interaction``: the decoder-interaction network (Al Shafi et al.) instead of
  SSC-ResNet, under EW and ATDWA;
* ``busi-cpu-cbdice``: DMF-var with DMF's decaying class-balanced Dice as auxiliary loss
  (Golnari & Diba, eqs. 2 and 21-25).

All other settings, the folds and the test images are those of ``busi-cpu``, so a companion run
pairs with the ``busi-cpu`` run of the same method and fold, and the paired statistics of
:mod:`busmtl.report.stats` apply unchanged. In the frames built here, the ``method`` column holds
a *system key* ``"<profile>:<method>"`` (the statistics only compare keys); ``weighter`` keeps the
method.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from busmtl.config import PROFILES
from busmtl.report import aggregate, tables
from busmtl.report.colors import label
from busmtl.report.paper_values import METRIC_NAMES
from busmtl.report.stats import comparison_table

#: The profile every companion is compared with.
REFERENCE_PROFILE: str = "busi-cpu"


@dataclass(frozen=True)
class Contrast:
    """A companion profile's run of ``method`` against the reference profile's run of it."""

    profile: str
    method: str

    @property
    def new(self) -> str:
        return system_key(self.profile, self.method)

    @property
    def old(self) -> str:
        return system_key(REFERENCE_PROFILE, self.method)


#: The contrasts of the results chapter, in its order.
CONTRASTS: tuple[Contrast, ...] = (
    Contrast("busi-cpu-interaction", "ew"),
    Contrast("busi-cpu-interaction", "atdwa"),
    Contrast("busi-cpu-cbdice", "dmf_var"),
)


def system_key(profile: str, method: str) -> str:
    """``"<profile>:<method>"``, the ``method`` value of a system in the frames built here."""
    return f"{profile}:{method}"


def network_of(profile: str) -> str:
    """The network a profile trains, as the book names it."""
    model = PROFILES[profile].settings.get("model", "ssc_resnet")
    return {"ssc_resnet": "SSC-ResNet", "interaction": "interaction network"}.get(model, model)


def aux_of(profile: str) -> str:
    """The profile's auxiliary loss (``none`` without one)."""
    aux = PROFILES[profile].settings.get("aux_loss")
    return {None: "none", "cb_dice": "CB-Dice"}.get(aux, str(aux))


def system_name(key: str) -> str:
    """A system's display name: the method's label (without a remark in brackets), its network,
    and its auxiliary loss."""
    profile, method = key.split(":", 1)
    aux = aux_of(profile)
    name = label(method).split(" (")[0]
    return f"{name}, {network_of(profile)}" + ("" if aux == "none" else f" + {aux}")


def collect(runs_root: str | Path,
            contrasts: tuple[Contrast, ...] = CONTRASTS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs of every system of ``contrasts`` (one row per planned fold, as
    :func:`busmtl.report.aggregate.collect`) and their per-image test rows, keyed by system."""
    frames = []
    systems = dict.fromkeys((c.profile, c.method) for c in contrasts)
    systems.update(dict.fromkeys((REFERENCE_PROFILE, c.method) for c in contrasts))
    for profile, method in systems:
        runs = aggregate.collect(runs_root, profile, methods=[method],
                                 folds=list(PROFILES[profile].folds))
        runs.insert(0, "weighter", runs["method"])
        runs.insert(0, "profile", profile)
        runs["method"] = system_key(profile, method)
        frames.append(runs)
    runs = pd.concat(frames, ignore_index=True)
    return runs, aggregate.per_image(runs)


def systems_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per system: finished folds, test Dice, IoU and accuracy (mean ± sd over folds;
    collapsed classifiers marked). No times: the runs were made under different loads of the
    machine, so their clocks do not compare (``busmtl bench models`` measures the cost)."""
    folds = runs.groupby("method", sort=False)["status"].agg(
        lambda status: f"{(status == 'done').sum()}/{len(status)}")
    collapsed = tables.collapsed_counts(runs)
    table = pd.DataFrame({"system": [system_name(key) for key in folds.index],
                          "folds": folds.to_numpy()}, index=folds.index)
    for metric in ("seg_dice", "seg_iou", "cls_acc"):
        stats = tables.mean_std(runs, f"test_{metric}")
        table[METRIC_NAMES[metric]] = [
            tables.mean_sd_cell(r["mean"], r["std"], r["n"], r["expected"], 3) for _, r in stats.iterrows()]
    for key, k in collapsed.items():
        if k and table.loc[key, METRIC_NAMES["cls_acc"]] != tables.PENDING:
            table.loc[key, METRIC_NAMES["cls_acc"]] += f" {tables.COLLAPSED_MARK}{k}"
    return table.set_index("system")


def contrast_table(runs: pd.DataFrame, per_image: pd.DataFrame,
                   contrasts: tuple[Contrast, ...] = CONTRASTS,
                   metrics: tuple[str, ...] = ("seg_dice", "cls_acc")) -> pd.DataFrame:
    """One row per (contrast, metric): companion minus reference, with the 95 % intervals and
    verdicts over folds and over test images (:func:`busmtl.report.stats.comparison_table`)."""
    return comparison_table(runs, per_image, [(c.new, c.old) for c in contrasts], metrics,
                            name=system_name)


def finished(runs: pd.DataFrame, profile: str) -> tuple[int, int]:
    """Finished and planned runs of ``profile`` in ``runs``."""
    rows = runs[runs["profile"] == profile]
    return int((rows["status"] == "done").sum()), len(rows)


def verdict_text(contrast: pd.DataFrame) -> str:
    """The contrasts of :func:`contrast_table` in words: for each comparison and metric, whether
    it is clearly better or worse over folds, over test images, both or neither (a difference
    clear over images only may belong to this test set rather than to training)."""
    if contrast.empty or contrast["folds"].max() == 0:
        return "No run of the companion profiles has finished yet."
    clear, images_only, unclear = [], [], []
    for _, row in contrast.iterrows():
        over_folds = row["verdict (folds)"] in ("better", "worse")
        over_images = row["verdict (images)"] in ("better", "worse")
        what = f"{row['comparison']} ({row['metric']})"
        if over_folds and over_images and row["verdict (folds)"] == row["verdict (images)"]:
            clear.append(f"{what} is {row['verdict (folds)']} over folds ({row['over folds']}) "
                         f"and over test images ({row['over test images']})")
        elif over_folds:
            clear.append(f"{what} is {row['verdict (folds)']} over folds ({row['over folds']}) "
                         f"but not clearly over test images ({row['over test images']})")
        elif over_images:
            images_only.append(f"{what} is {row['verdict (images)']} over test images "
                               f"({row['over test images']}) but not over folds "
                               f"({row['over folds']})")
        else:
            unclear.append(what)
    parts = [f"{sentence}." for sentence in clear]
    if images_only:
        parts.append("; ".join(images_only) + (
            ": such a difference may belong to these test images rather than to the training."
            if len(images_only) == 1 else
            ": each of these may belong to these test images rather than to the training."))
    if unclear:
        parts.append("No clear difference, over folds or over test images, for "
                     + "; ".join(unclear) + ".")
    if contrast["folds"].min() < 2:
        parts.append("Some comparisons have fewer than two finished folds, hence no interval "
                     "over folds.")
    return " ".join(parts)
