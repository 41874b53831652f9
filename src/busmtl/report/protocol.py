"""What the primary paper states, what a profile does, and which of the two is a choice.

:func:`deviations_table` compares the protocol of the primary paper (Hariyadi et al., Sec.
III-A and IV-A; :data:`busmtl.report.paper_values.PROTOCOL`) with the settings of a profile
(:data:`busmtl.config.PROFILES`), row by row, with one of three labels:

* ``as in the paper``: the profile does what the paper states;
* ``paper incomplete: details chosen``: the paper states the setting only in part (e.g. which
  augmentations, not their magnitudes); the missing details are the project's choice;
* ``choice (paper silent)``: the paper does not give the value; this is the project's choice;
* ``deviation``: the paper gives a value and this profile uses another (the reason is given).

Every value in the table is read from the code (config, weighter defaults, augmentation), so the
table cannot drift from what the runs did.
"""

from __future__ import annotations

import pandas as pd

from busmtl.config import PROFILES, SMP_DECODER_CHANNELS, make_config
from busmtl.data.augment import PROJECT_CHOICES as AUGMENT_CHOICES
from busmtl.report.paper_values import PROTOCOL
from busmtl.weighting import hyperparameters

SAME, CHOICE, DEVIATION = "as in the paper", "choice (paper silent)", "deviation"
PARTIAL = "paper incomplete: details chosen"
#: Settings the paper states only in part.
PARTLY_STATED: frozenset[str] = frozenset({"augmentation", "dropout", "LR schedule"})


def _fmt_channels(channels: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(c) for c in channels) + ")"


def profile_values(profile: str, precision: str | None = None) -> dict[str, str]:
    """The profile's value of each row of :data:`PROTOCOL`, as text (``precision``: the one the
    runs recorded, when known)."""
    cfg = make_config(profile, method="ew")
    gn = {**hyperparameters("gradnorm")}
    at = hyperparameters("atdwa")
    weights = cfg.encoder_weights or "random initialisation"
    seeds = PROFILES[profile].seeds
    augment = {
        "online": "one of 7 variants per read (original or one transform alone)",
        "offline": f"original + {cfg.offline_copies} copies, copy j = transform j alone",
        "none": "none",
    }[cfg.augment]
    return {
        "data": "BUSI, 647 benign + malignant" if cfg.dataset == "busi" else
                f"{cfg.dataset} ({'phantoms' if cfg.dataset != 'busi' else 'BUSI'})",
        "split": ("20 % test, 5 stratified folds, grouped by near-duplicate cluster; "
                  "cross-class clusters left out" if cfg.split_group == "duplicates" else
                  "129 test (floor of 20 %), 5 stratified folds of the rest, by image"),
        "seeds": (f"{', '.join(str(s) for s in seeds)} ({len(seeds)} runs per method and fold)"
                  if len(seeds) > 1 else f"{seeds[0]} (one run per method and fold)"),
        "image size": f"{cfg.prepare_size} x {cfg.prepare_size}",
        "augmentation": augment,
        "encoder": f"{cfg.encoder}, {weights}",
        "decoder widths": _fmt_channels(cfg.decoder_channels),
        "optimizer": f"Adam, lr {cfg.lr:g}",
        "dropout": f"{cfg.dropout:g}, " + ("classification head only" if cfg.dropout_scope == "head"
                                          else "head + after every decoder block"),
        "LR schedule": f"ReduceLROnPlateau on the mean val loss, factor {cfg.lr_factor:g}, "
                       f"patience {cfg.lr_patience}",
        "early stopping": f"patience {cfg.early_stopping_patience} on the mean val loss"
                          + _stopping_note(cfg.epochs, cfg.early_stopping_patience),
        "epochs": f"at most {cfg.epochs}",
        "batch size": f"{cfg.batch_size} ({cfg.batch_size_overrides.get('gradnorm', cfg.batch_size)}"
                      " for GradNorm)",
        "segmentation loss": "soft Dice + binary cross-entropy",
        "DWA temperature": f"T = {hyperparameters('dwa')['T']:g}",
        "ATDWA": f"T0 = {at['T0']:g}, gamma = {at['gamma']:g}, window: the {at['window']} most "
                 "recent finished epochs ("
                 + ("population sd" if at["ddof"] == 0 else f"sd with ddof {at['ddof']}") + ")",
        "GradNorm": f"alpha = {gn['alpha']:g}, weights learn with their own Adam at the network's "
                    f"lr ({cfg.lr:g}), W = last encoder convolution",
        "UW": "sum_k 0.5 exp(-s_k) L_k + 0.5 s_k, s_k learned with the network",
        "precision": precision or f"{cfg.precision} (bf16 only where the CPU has it natively)",
    }


def _stopping_note(epochs: int, patience: int) -> str:
    """Under a cap of ``epochs``, early stopping can only act when the best epoch comes
    ``patience`` epochs before the cap: say so when that leaves it little room."""
    latest = epochs - patience
    if latest >= patience:
        return ""
    if latest < 1:
        return f" (never reached within {epochs} epochs)"
    return (f" (can act only if the best epoch is {latest} or earlier: rarely within {epochs} "
            "epochs, so runs end at the cap)")


#: Rows the paper leaves open, with the reason for this project's value.
CHOICE_NOTES: dict[str, str] = {
    "decoder widths": "the paper does not give the U-Net decoder; the CPU profiles halve the "
                      "first four of smp's default widths "
                      f"{_fmt_channels(SMP_DECODER_CHANNELS)} and keep the last (the step is "
                      "about twice as fast)",
    "seeds": "the paper reports one result per fold; repeating a run with other seeds measures "
             "how far training noise alone moves a result",
    "epochs": "the paper stops early (patience 15) without a cap",
    "segmentation loss": "the paper does not name its segmentation loss",
    "GradNorm": "the paper does not give alpha, the weights' learning rate or the layer W; "
                "alpha 1.5 is Chen et al.'s default",
    "UW": "the paper does not use UW; this is Kendall et al.'s objective in its common form",
    "dropout": "the paper applies 0.3 'throughout the network' without saying which layers; "
               "`dropout_scope=\"network\"` also drops decoder channels",
    "LR schedule": "the paper reduces the learning rate on a plateau without factor or patience",
    "augmentation": "; ".join(f"{k}: {v}" for k, v in AUGMENT_CHOICES.items()),
    "precision": "the paper trains on a GPU in (presumably) float32",
}

#: Rows where a profile departs from a value the paper gives, with the reason.
DEVIATION_NOTES: dict[str, str] = {
    "image size": "a smaller image so that the reference sweep (its methods x 5 folds) trains "
                  "in hours on a 2-core CPU",
    "encoder": "ImageNet weights cannot be fetched on the build machines; ResNet-18 for CPU time",
    "optimizer": "a higher learning rate: from random initialisation and with a short budget, "
                 "1e-4 barely learns (measured on phantoms and BUSI)",
    "epochs": "a fixed CPU budget; early stopping rarely triggers within it",
    "early stopping": "the fixed CPU budget ends most runs before early stopping can act; the "
                      "checkpoint with the lowest mean validation loss is still the one tested",
    "data": "synthetic phantoms stand in for BUSI where the dataset is absent",
    "split": "the paper's split by image lets copies of test images into training (see the "
             "data chapter); the grouped split keeps each near-duplicate cluster on one side, "
             "and leaves out the clusters filed under both classes, whose true class is unknown",
    "dropout": "the paper applies 0.3 'throughout the network' without saying which layers; this "
               "profile keeps it to the classification head, and `dropout_scope=\"network\"` "
               "also drops decoder channels",
    "ATDWA": "an epoch's weights are fixed before it starts, when its own losses are not yet "
             "known, so the window holds the most recent finished epochs",
    "augmentation": "online: each read gives the original or one transform alone, so an epoch "
                    "is as long as the training split; the paper's offline expansion (the "
                    "original plus a copy per transform) would multiply every CPU epoch's "
                    "length by that many images per case",
}


def deviations_table(profile: str, precision: str | None = None) -> pd.DataFrame:
    """One row per protocol setting: the paper's value, the profile's, and the label."""
    ours = profile_values(profile, precision)
    cfg = make_config(profile, method="ew")
    capped = bool(_stopping_note(cfg.epochs, cfg.early_stopping_patience))
    rows = []
    for setting, paper in PROTOCOL.items():
        value = ours[setting]
        if paper is None:
            kind, note = CHOICE, CHOICE_NOTES.get(setting, "")
        elif setting in DEVIATION_NOTES and (_differs(setting, paper, value)
                                             or (setting == "early stopping" and capped)):
            kind, note = DEVIATION, DEVIATION_NOTES[setting]
        elif setting in PARTLY_STATED:
            kind, note = PARTIAL, CHOICE_NOTES.get(setting, "")
        else:
            kind, note = SAME, CHOICE_NOTES.get(setting, "")
        rows.append({"setting": setting, "paper": paper or "not stated", profile: value,
                     "status": kind, "why": note})
    return pd.DataFrame(rows).set_index("setting")


def _differs(setting: str, paper: str, value: str) -> bool:
    """Whether the profile's value departs from the paper's stated one (by the key numbers)."""
    keys = {"image size": "256", "encoder": "resnet34", "optimizer": "lr 0.0001",
            "epochs": "200", "data": "BUSI", "augmentation": "copies", "split": "by image",
            "dropout": "decoder", "ATDWA": "current"}
    key = keys.get(setting)
    return key is not None and key not in value
