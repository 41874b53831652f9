"""Values reported by the primary paper (Hariyadi et al., ATDWA), for comparison in the book.

Tables II and III are the paper's ablation (SSC-ResNet = equal weighting, GradNorm, DWA, ATDWA);
Table I compares ATDWA with earlier BUSI multi-task models. ``None`` = not reported.
"""

from __future__ import annotations

#: Table II: method -> metric -> value (segmentation then classification metrics).
TABLE2: dict[str, dict[str, float]] = {
    "ew": {"seg_acc": 0.9576, "seg_dice": 0.7414, "seg_iou": 0.6502, "seg_auc": 0.8887,
           "seg_recall": 0.7970, "seg_precision": 0.7538,
           "cls_acc": 0.8961, "cls_f1": 0.8960, "cls_recall": 0.8961, "cls_precision": 0.8981},
    "gradnorm": {"seg_acc": 0.9570, "seg_dice": 0.7144, "seg_iou": 0.6291, "seg_auc": 0.8677,
                 "seg_recall": 0.7498, "seg_precision": 0.7508,
                 "cls_acc": 0.9271, "cls_f1": 0.9271, "cls_recall": 0.9271, "cls_precision": 0.9284},
    "dwa": {"seg_acc": 0.9598, "seg_dice": 0.7420, "seg_iou": 0.6565, "seg_auc": 0.8815,
            "seg_recall": 0.7789, "seg_precision": 0.7659,
            "cls_acc": 0.9039, "cls_f1": 0.9033, "cls_recall": 0.9039, "cls_precision": 0.9080},
    "atdwa": {"seg_acc": 0.9589, "seg_dice": 0.7561, "seg_iou": 0.6711, "seg_auc": 0.8843,
              "seg_recall": 0.7837, "seg_precision": 0.7816,
              "cls_acc": 0.9178, "cls_f1": 0.9178, "cls_recall": 0.9178, "cls_precision": 0.9207},
}

#: Table I: model -> metric -> value (None: not reported by the cited work). Copied as printed:
#: for ATDWA the paper's Table I gives precision 0.9178, its Table II 0.9207.
TABLE1: dict[str, dict[str, float | None]] = {
    "Byra et al.": {"seg_acc": 0.9270, "seg_dice": 0.6440, "seg_iou": None,
                    "cls_acc": 0.8650, "cls_recall": 0.8200, "cls_precision": None},
    "SSC": {"seg_acc": 0.9639, "seg_dice": 0.7167, "seg_iou": 0.6613,
            "cls_acc": 0.8667, "cls_recall": 0.8587, "cls_precision": 0.8733},
    "ATDWA (paper)": {"seg_acc": 0.9589, "seg_dice": 0.7561, "seg_iou": 0.6711,
                      "cls_acc": 0.9178, "cls_recall": 0.9178, "cls_precision": 0.9178},
}
TABLE1_METRICS: tuple[str, ...] = ("seg_acc", "seg_dice", "seg_iou", "cls_acc", "cls_recall", "cls_precision")

#: Table III: method -> peak GPU memory (GB), longest step (ms), longest epoch (s).
TABLE3: dict[str, dict[str, float]] = {
    "ew": {"memory_gb": 0.8046, "step_ms_max": 179.5562, "epoch_s_max": 26.5903},
    "dwa": {"memory_gb": 0.8049, "step_ms_max": 185.5686, "epoch_s_max": 26.0866},
    "gradnorm": {"memory_gb": 6.8029, "step_ms_max": 1286.3955, "epoch_s_max": 258.8503},
    "atdwa": {"memory_gb": 0.8049, "step_ms_max": 187.4173, "epoch_s_max": 26.6796},
}

#: The decoder-interaction paper (Al Shafi et al.), its full model on BUSI (their Table 1).
INTERACTION_PAPER: dict[str, float] = {"seg_iou": 0.7450, "cls_acc": 0.9060}

#: Metric key -> column header.
METRIC_NAMES: dict[str, str] = {
    "seg_acc": "Seg Acc", "seg_dice": "Dice", "seg_iou": "IoU", "seg_auc": "AUC",
    "seg_recall": "Seg Recall", "seg_precision": "Seg Precision",
    "cls_acc": "Cls Acc", "cls_f1": "F1", "cls_recall": "Cls Recall", "cls_precision": "Cls Precision",
}
#: The metrics the book's tables show: every one but ``cls_recall``. Averaged over the two
#: classes weighted by their support (as the paper does), recall equals accuracy by
#: construction, so its column would repeat ``cls_acc``; the runs still record it.
METRICS: tuple[str, ...] = tuple(m for m in METRIC_NAMES if m != "cls_recall")

#: The primary paper's training protocol (Sec. III-A, IV-A), paraphrased; ``None``: not stated.
#: :mod:`busmtl.report.protocol` sets each row beside a profile's value.
PROTOCOL: dict[str, str | None] = {
    "data": "BUSI, 647 benign + malignant",
    "split": "80/20 train/test (129 test images), 5-fold CV on the training part; no "
             "grouping stated (read as by image)",
    "seeds": None,
    "image size": "256 x 256",
    "augmentation": "grid distortion, rotation up to 45 degrees, optical distortion, horizontal "
                    "and vertical flips, elastic; p = 1; ~2,900 training images",
    "encoder": "ResNet-34, ImageNet-pretrained",
    "decoder widths": None,
    "optimizer": "Adam, lr 0.0001",
    "dropout": "0.3 throughout the network",
    "LR schedule": "reduced when the validation loss plateaus (factor, patience not stated)",
    "early stopping": "patience 15 on the mean val loss of the two tasks",
    "epochs": None,
    "batch size": "16 (8 for GradNorm)",
    "segmentation loss": None,
    "DWA temperature": "T = 2",
    "ATDWA": "T0 = 2, gamma = 0.8, window: the current and the two previous epochs (eqs. 2-5)",
    "GradNorm": None,
    "UW": None,
    "precision": None,
}
