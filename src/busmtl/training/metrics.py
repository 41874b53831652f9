"""Segmentation and classification metrics (the columns of the primary paper's Tables I-II).

Segmentation (masks thresholded at ``p >= 0.5``)
    Pixel accuracy, Dice, IoU, recall and precision are computed **per image** from that image's
    true/false positive/negative pixel counts (scikit-learn's ``multilabel_confusion_matrix`` with
    ``samplewise=True``), then **averaged over images**::

        acc = (TP + TN) / (TP + TN + FP + FN)     Dice = 2 TP / (2 TP + FP + FN)
        IoU = TP / (TP + FP + FN)                  recall = TP / (TP + FN)
        precision = TP / (TP + FP)

    Empty-mask convention: when an image's true mask *and* predicted mask are both empty, every
    ratio is 1 (perfect agreement); otherwise a ratio whose denominator is 0 counts as 0 (e.g. the
    recall of any prediction on an empty true mask, the precision of an empty prediction on a
    lesion).

    The ROC AUC is pixel-wise and pooled: ``roc_auc_score`` over every pixel of every image
    (a deterministic random subset of ``max_auc_pixels`` pixels when there are more); NaN when
    only one class is present.
Classification
    Accuracy and the support-weighted averages of F1, recall and precision over the classes
    (weighted recall equals accuracy, as in the paper's tables).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    multilabel_confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
)

#: Threshold on mask probabilities (``p >= 0.5`` is lesion).
THRESHOLD = 0.5
#: Above this many pixels the pooled AUC uses a deterministic random subset of them.
MAX_AUC_PIXELS = 2_000_000

SEG_METRICS: tuple[str, ...] = (
    "seg_acc", "seg_dice", "seg_iou", "seg_auc", "seg_recall", "seg_precision"
)
CLS_METRICS: tuple[str, ...] = ("cls_acc", "cls_f1", "cls_recall", "cls_precision")
METRICS: tuple[str, ...] = SEG_METRICS + CLS_METRICS


def _ratio(num: np.ndarray, den: np.ndarray, both_empty: np.ndarray) -> np.ndarray:
    """``num / den`` per image; 1 where both masks are empty, 0 where ``den == 0`` otherwise."""
    out = np.divide(num, den, out=np.zeros(num.shape, dtype=np.float64), where=den > 0)
    out[both_empty] = 1.0
    return out


def per_image_segmentation(mask_true: np.ndarray, mask_prob: np.ndarray,
                           threshold: float = THRESHOLD) -> dict[str, np.ndarray]:
    """Per-image accuracy, Dice, IoU, recall and precision (each an array of length N).

    ``mask_true``: (N, H, W) 0/1; ``mask_prob``: (N, H, W) probabilities in [0, 1].
    """
    mask_true = np.asarray(mask_true)
    mask_prob = np.asarray(mask_prob)
    if mask_true.shape != mask_prob.shape:
        raise ValueError(f"true masks {mask_true.shape} and probabilities {mask_prob.shape} differ")
    n = mask_true.shape[0]
    y_true = (mask_true.reshape(n, -1) > 0).astype(np.uint8)
    y_pred = (mask_prob.reshape(n, -1) >= threshold).astype(np.uint8)
    # Each image is a "sample" and each pixel a "label": one 2x2 confusion matrix per image.
    cm = multilabel_confusion_matrix(y_true, y_pred, samplewise=True).astype(np.float64)
    tn, fp, fn, tp = cm[:, 0, 0], cm[:, 0, 1], cm[:, 1, 0], cm[:, 1, 1]
    both_empty = (tp + fp + fn) == 0
    return {
        "seg_acc": (tp + tn) / (tp + tn + fp + fn),
        "seg_dice": _ratio(2 * tp, 2 * tp + fp + fn, both_empty),
        "seg_iou": _ratio(tp, tp + fp + fn, both_empty),
        "seg_recall": _ratio(tp, tp + fn, both_empty),
        "seg_precision": _ratio(tp, tp + fp, both_empty),
    }


def pixel_auc(mask_true: np.ndarray, mask_prob: np.ndarray,
              max_pixels: int = MAX_AUC_PIXELS, seed: int = 0) -> float:
    """ROC AUC of the pixel probabilities pooled over all images (NaN if one class only)."""
    y_true = (np.asarray(mask_true).ravel() > 0).astype(np.uint8)
    y_score = np.asarray(mask_prob, dtype=np.float64).ravel()
    if y_true.size > max_pixels:
        keep = np.random.default_rng(seed).choice(y_true.size, size=max_pixels, replace=False)
        y_true, y_score = y_true[keep], y_score[keep]
    if y_true.min() == y_true.max():
        return float("nan")
    return float(roc_auc_score(y_true, y_score))


def segmentation_metrics(mask_true: np.ndarray, mask_prob: np.ndarray,
                         threshold: float = THRESHOLD) -> dict[str, float]:
    """Per-image metrics averaged over images, plus the pooled pixel AUC (``seg_*`` keys)."""
    per_image = per_image_segmentation(mask_true, mask_prob, threshold)
    out = {key: float(values.mean()) for key, values in per_image.items()}
    out["seg_auc"] = pixel_auc(mask_true, mask_prob)
    return {key: out[key] for key in SEG_METRICS}


def classification_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy and weighted F1 / recall / precision (``cls_*`` keys); ``predicted`` are labels."""
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    return {
        "cls_acc": float(accuracy_score(labels, predicted)),
        "cls_f1": float(f1_score(labels, predicted, average="weighted", zero_division=0)),
        "cls_recall": float(recall_score(labels, predicted, average="weighted", zero_division=0)),
        "cls_precision": float(
            precision_score(labels, predicted, average="weighted", zero_division=0)
        ),
    }


def all_metrics(mask_true: np.ndarray, mask_prob: np.ndarray, labels: np.ndarray,
                class_prob: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRICS` from true masks/labels and predicted probabilities.

    ``class_prob`` is (N, C); the predicted class is its arg-max.
    """
    predicted = np.asarray(class_prob).argmax(axis=1)
    return {**segmentation_metrics(mask_true, mask_prob), **classification_metrics(labels, predicted)}
