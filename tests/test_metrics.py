"""Metrics: hand-computed values on tiny arrays, the empty-mask convention, sklearn agreement."""

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score, precision_score, recall_score

from busmtl.training import metrics as M

# image 0: true [[1,1],[0,0]], predicted [[1,0],[1,0]] -> TP 1, FP 1, FN 1, TN 1
# image 1: both empty -> perfect agreement
TRUE = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]], dtype=np.uint8)
PROB = np.array([[[0.9, 0.2], [0.6, 0.1]], [[0.1, 0.2], [0.3, 0.4]]])


def test_per_image_values_by_hand():
    per = M.per_image_segmentation(TRUE, PROB)
    np.testing.assert_allclose(per["seg_acc"], [0.5, 1.0])
    np.testing.assert_allclose(per["seg_dice"], [0.5, 1.0])
    np.testing.assert_allclose(per["seg_iou"], [1 / 3, 1.0])
    np.testing.assert_allclose(per["seg_recall"], [0.5, 1.0])
    np.testing.assert_allclose(per["seg_precision"], [0.5, 1.0])


def test_averaged_over_images_and_keys():
    out = M.segmentation_metrics(TRUE, PROB)
    assert tuple(out) == M.SEG_METRICS
    assert out["seg_dice"] == pytest.approx(0.75)
    assert out["seg_iou"] == pytest.approx((1 / 3 + 1) / 2)
    # pooled AUC over 8 pixels: positives 0.9, 0.2; negatives 0.6, 0.1, 0.1, 0.2, 0.3, 0.4
    # 0.9 beats all 6; 0.2 beats 0.1, 0.1 and ties 0.2 (half) -> (6 + 2.5) / 12
    assert out["seg_auc"] == pytest.approx(8.5 / 12)


def test_empty_mask_disagreement_scores_zero():
    true = np.zeros((2, 2, 2), np.uint8)
    true[1, 0, 0] = 1
    prob = np.zeros((2, 2, 2))
    prob[0, 1, 1] = 0.8  # image 0: lesion predicted on an empty mask; image 1: lesion missed
    per = M.per_image_segmentation(true, prob)
    for key in ("seg_dice", "seg_iou", "seg_recall", "seg_precision"):
        np.testing.assert_array_equal(per[key], [0.0, 0.0])
    np.testing.assert_allclose(per["seg_acc"], [0.75, 0.75])


def test_threshold_is_inclusive_at_one_half():
    true = np.ones((1, 1, 2), np.uint8)
    prob = np.array([[[0.5, 0.4999]]])
    assert M.per_image_segmentation(true, prob)["seg_recall"][0] == pytest.approx(0.5)


def test_agrees_with_sklearn_per_image_on_random_masks():
    rng = np.random.default_rng(0)
    true = (rng.random((5, 8, 8)) > 0.6).astype(np.uint8)
    prob = rng.random((5, 8, 8))
    per = M.per_image_segmentation(true, prob)
    for i in range(5):
        t, p = true[i].ravel(), (prob[i].ravel() >= 0.5).astype(int)
        assert per["seg_dice"][i] == pytest.approx(f1_score(t, p))
        assert per["seg_iou"][i] == pytest.approx(jaccard_score(t, p))
        assert per["seg_recall"][i] == pytest.approx(recall_score(t, p))
        assert per["seg_precision"][i] == pytest.approx(precision_score(t, p))


def test_pixel_auc_single_class_is_nan_and_subsampling_is_deterministic():
    assert math.isnan(M.pixel_auc(np.zeros((1, 4, 4)), np.random.rand(1, 4, 4)))
    rng = np.random.default_rng(1)
    true = (rng.random((4, 32, 32)) > 0.5).astype(np.uint8)
    prob = np.clip(true * 0.3 + rng.random(true.shape) * 0.7, 0, 1)
    full = M.pixel_auc(true, prob)
    sub = M.pixel_auc(true, prob, max_pixels=1000)
    assert sub == M.pixel_auc(true, prob, max_pixels=1000)
    assert abs(sub - full) < 0.05


def test_classification_metrics_by_hand():
    labels = np.array([0, 0, 1, 1, 1])
    predicted = np.array([0, 1, 1, 1, 0])
    # class 0: P = R = F1 = 1/2 (support 2); class 1: P = R = F1 = 2/3 (support 3)
    # weighted: (2 * 1/2 + 3 * 2/3) / 5 = 0.6 for each; weighted recall equals accuracy
    out = M.classification_metrics(labels, predicted)
    assert out == pytest.approx(
        {"cls_acc": 0.6, "cls_f1": 0.6, "cls_recall": 0.6, "cls_precision": 0.6}
    )


def test_all_metrics_uses_argmax_of_class_probabilities():
    cls_prob = np.array([[0.8, 0.2], [0.3, 0.7]])
    out = M.all_metrics(TRUE, PROB, np.array([0, 1]), cls_prob)
    assert tuple(out) == M.METRICS
    assert out["cls_acc"] == 1.0
