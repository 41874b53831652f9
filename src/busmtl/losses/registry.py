"""The named losses a run can choose, and the project's choices where the papers are silent.

Segmentation losses (``seg_losses``, and ``aux_loss``) take ``(mask_logits, mask)``;
classification losses (``cls_loss``) take ``(class_logits, labels)``. Each returns a scalar.

A segmentation entry may carry a constant factor, ``"name:factor"`` (e.g. ``"boundary:0.25"``):
the decoder-interaction paper's ``L_seg = L_FT + 0.25 L_boundary + 0.15 L_texture`` is
``("focal_tversky", "boundary:0.25", "texture:0.15")`` (:data:`INTERACTION_SEG_LOSSES`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from busmtl.losses.bce import bce_loss
from busmtl.losses.boundary import boundary_loss
from busmtl.losses.cb_dice import cb_dice_loss
from busmtl.losses.ce import classification_loss
from busmtl.losses.dice import dice_loss
from busmtl.losses.focal_ce import focal_ce_loss
from busmtl.losses.focal_tversky import focal_tversky_loss
from busmtl.losses.iou import iou_loss
from busmtl.losses.texture import texture_loss
from busmtl.losses.tversky import tversky_loss

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Segmentation losses by name (each module's docstring gives its equation).
SEG_LOSSES: dict[str, LossFn] = {
    "dice": dice_loss,
    "bce": bce_loss,
    "iou": iou_loss,
    "tversky": tversky_loss,
    "focal_tversky": focal_tversky_loss,
    "cb_dice": cb_dice_loss,
    "boundary": boundary_loss,
    "texture": texture_loss,
}

#: Classification losses by name.
CLS_LOSSES: dict[str, LossFn] = {
    "ce": classification_loss,
    "focal_ce": focal_ce_loss,
}

#: The project's segmentation loss since the start: ``L_seg = Dice + BCE``.
DEFAULT_SEG_LOSSES: tuple[str, ...] = ("dice", "bce")
#: The decoder-interaction paper's segmentation loss (Sec. 2.4).
INTERACTION_SEG_LOSSES: tuple[str, ...] = ("focal_tversky", "boundary:0.25", "texture:0.15")
#: DMF's three base losses of one segmentation task (Sec. 10 of Golnari & Diba).
DMF_SEG_LOSSES: tuple[str, ...] = ("bce", "iou", "dice")

#: Where the papers leave a detail open, what this project does (shown in the book's deviations
#: table). Keys name the loss or setting.
PROJECT_CHOICES: dict[str, str] = {
    "iou, dice (DMF eqs. 17-18)": (
        "DMF averages IoU and Dice over the classes of a one-hot mask; with one lesion channel "
        "they are computed for the lesion alone, from soft counts pooled over the batch (0 for a "
        "batch without lesion), as the project's Dice always was. CB-Dice is the loss that "
        "also counts the background."
    ),
    "bce (DMF eq. 16)": (
        "DMF's categorical cross-entropy over background and lesion equals the binary "
        "cross-entropy of the lesion logit; bce is used."
    ),
    "tversky (DMF eq. 20)": (
        "DMF gives no alpha/beta; the decoder-interaction paper's alpha = 0.3 (false "
        "positives), beta = 0.7 (false negatives) are used for both Tversky losses."
    ),
    "focal_tversky (interaction Sec. 2.4)": (
        "gamma = 0.75 is the exponent of (1 - TI); TI pooled over the batch (not per image); "
        "1 - TI floored at 1e-7."
    ),
    "cb_dice (DMF eqs. 21-25)": (
        "Classes background and lesion; ratios, weights and soft Dice pooled over the batch; "
        "weights from eq. 22 (inverse ratio, 1e-6 added to each ratio), not from the text's "
        "'one minus the ratio'; weights carry no gradient."
    ),
    "boundary (interaction eq. 11)": (
        "5 x 5 curvature kernel, sigma = 1, divided by the sum of its absolute values; the soft "
        "prediction is filtered instead of the binarised one (which has no gradient); zero "
        "padding; mean over pixels and images."
    ),
    "texture (interaction eq. 12)": (
        "Horizontal Sobel with zero padding; population std per image, sqrt(var + 1e-8); mean "
        "of |std difference| over the images."
    ),
    "focal_ce (interaction Sec. 2.4)": "Lin et al.'s gamma = 2, no class factor alpha.",
    "seg loss factors": (
        "The interaction paper's L_seg = L_FT + 0.25 L_boundary + 0.15 L_texture is the setting "
        "seg_losses = focal_tversky,boundary:0.25,texture:0.15; its fixed task weights "
        "(0.80 L_seg + 0.20 L_cls) are not used: the run's weighter weighs the tasks."
    ),
    "aux loss (DMF eq. 2)": (
        "gamma(t) = gamma0 exp(-tau t), t = optimizer steps taken before the step (schedule "
        "'step') or epochs completed (schedule 'epoch'); defaults gamma0 = 1, tau = 0.05 per "
        "step (the defaults of the authors' demo code, whose BUSI example uses gamma0 = 5 and "
        "counts t in blocks of 100 steps). The term is added to the weighted sum, outside the "
        "weighting, with its own backward pass; it is not part of the validation loss that "
        "drives early stopping."
    ),
    "loss terms 'losses'": (
        "Each named loss is one weighter term (K = number of segmentation losses + 1); the "
        "logged w_seg is the mean weight of the segmentation terms (the weight L_seg would get "
        "if they were equal), w_cls the classification term's weight; train_loss_seg is the sum "
        "of the (factor-scaled) segmentation losses, as in 'tasks' mode."
    ),
}


def parse_seg_entry(entry: str) -> tuple[str, float]:
    """``"boundary:0.25"`` -> ``("boundary", 0.25)``; ``"dice"`` -> ``("dice", 1.0)``.

    ValueError naming the entry and the valid names when the name is unknown or the factor is
    not a positive number.
    """
    name, sep, factor_text = str(entry).partition(":")
    name = name.strip()
    if name not in SEG_LOSSES:
        raise ValueError(
            f"unknown segmentation loss {name!r} in {entry!r}; valid: {', '.join(SEG_LOSSES)} "
            "(optionally with a factor, e.g. boundary:0.25)"
        )
    if not sep:
        return name, 1.0
    try:
        factor = float(factor_text)
    except ValueError:
        factor = float("nan")
    if not factor > 0 or factor == float("inf"):
        raise ValueError(
            f"bad factor in segmentation loss {entry!r}: write name:factor with a positive "
            "number, e.g. boundary:0.25"
        )
    return name, factor


def seg_loss(name: str) -> LossFn:
    """The segmentation loss ``name`` (ValueError listing the valid ones)."""
    return SEG_LOSSES[parse_seg_entry(name)[0]]


def cls_loss(name: str) -> LossFn:
    """The classification loss ``name`` (ValueError listing the valid ones)."""
    if name not in CLS_LOSSES:
        raise ValueError(f"unknown classification loss {name!r}; valid: {', '.join(CLS_LOSSES)}")
    return CLS_LOSSES[name]
