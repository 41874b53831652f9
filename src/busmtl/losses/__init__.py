"""Losses: the named segmentation and classification losses, and how a run combines them.

The project's original losses are unchanged: ``task_losses`` returns ``[L_seg, L_cls]`` with
``L_seg = Dice + BCE`` and ``L_cls = CE`` (the committed reference runs depend on it, bit for bit).

One loss family per module, each docstring stating its equation and the paper's number:

=================  ================================================  =============================
name               loss                                              module
=================  ================================================  =============================
``dice``           soft Dice of the lesion (DMF eq. 18)               :mod:`~busmtl.losses.dice`
``bce``            binary cross-entropy (DMF eq. 16, two classes)     :mod:`~busmtl.losses.bce`
``iou``            soft IoU of the lesion (DMF eq. 17)                :mod:`~busmtl.losses.iou`
``tversky``        Tversky (DMF eq. 20)                               :mod:`~busmtl.losses.tversky`
``focal_tversky``  focal Tversky (interaction paper, Sec. 2.4)        :mod:`~busmtl.losses.focal_tversky`
``cb_dice``        class-balanced Dice (DMF eqs. 21-25)               :mod:`~busmtl.losses.cb_dice`
``boundary``       curvature boundary term (interaction eq. 11)       :mod:`~busmtl.losses.boundary`
``texture``        Sobel texture term (interaction eq. 12)            :mod:`~busmtl.losses.texture`
``ce``             cross-entropy of the class logits                  :mod:`~busmtl.losses.ce`
``focal_ce``       focal cross-entropy (Lin et al.)                   :mod:`~busmtl.losses.focal_ce`
=================  ================================================  =============================

:class:`~busmtl.losses.setup.LossSetup` turns a run's settings (``seg_losses``, ``cls_loss``,
``loss_terms``, ``aux_loss``, ...) into the K terms a weighter sees and DMF's decaying auxiliary
term. :data:`PROJECT_CHOICES` lists what the papers leave open and what this project does.
"""

from busmtl.losses.bce import bce_loss
from busmtl.losses.boundary import boundary_loss
from busmtl.losses.cb_dice import cb_dice_loss
from busmtl.losses.ce import classification_loss
from busmtl.losses.dice import dice_loss
from busmtl.losses.focal_ce import focal_ce_loss
from busmtl.losses.focal_tversky import focal_tversky_loss
from busmtl.losses.iou import iou_loss
from busmtl.losses.registry import (
    CLS_LOSSES,
    DEFAULT_SEG_LOSSES,
    DMF_SEG_LOSSES,
    INTERACTION_SEG_LOSSES,
    PROJECT_CHOICES,
    SEG_LOSSES,
    cls_loss,
    parse_seg_entry,
    seg_loss,
)
from busmtl.losses.setup import AUX_SCHEDULES, LOSS_TERMS, LossSetup, LossValues
from busmtl.losses.tasks import segmentation_loss, task_loss_terms, task_losses
from busmtl.losses.texture import texture_loss
from busmtl.losses.tversky import tversky_loss

__all__ = [
    "AUX_SCHEDULES",
    "CLS_LOSSES",
    "DEFAULT_SEG_LOSSES",
    "DMF_SEG_LOSSES",
    "INTERACTION_SEG_LOSSES",
    "LOSS_TERMS",
    "PROJECT_CHOICES",
    "SEG_LOSSES",
    "LossSetup",
    "LossValues",
    "bce_loss",
    "boundary_loss",
    "cb_dice_loss",
    "classification_loss",
    "cls_loss",
    "dice_loss",
    "focal_ce_loss",
    "focal_tversky_loss",
    "iou_loss",
    "parse_seg_entry",
    "seg_loss",
    "segmentation_loss",
    "task_loss_terms",
    "task_losses",
    "texture_loss",
    "tversky_loss",
]
