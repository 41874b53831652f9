"""The results chapter's headline: paired differences over seeds x folds x images, seed spread,
the leak table and the leak effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from busmtl.report import headline, leak


def _per_image(values: dict[tuple[str, int, int], list[float]]) -> pd.DataFrame:
    rows = []
    for (method, seed, fold), column in values.items():
        for i, v in enumerate(column):
            rows.append({"method": method, "seed": seed, "fold": fold, "id": f"img{i}",
                         "seg_dice": v, "cls_correct": float(v > 0.5)})
    return pd.DataFrame(rows)


def test_the_paired_cube_holds_a_minus_b_per_seed_fold_and_image():
    pi = _per_image({("atdwa", 0, 0): [0.5, 0.7], ("dwa", 0, 0): [0.4, 0.9],
                     ("atdwa", 1, 0): [0.6, 0.6], ("dwa", 1, 0): [0.6, 0.5]})
    cube = headline.paired_cube(pi, "atdwa", "dwa", "seg_dice")
    assert cube.shape == (2, 1, 2)
    np.testing.assert_allclose(cube[:, 0, :], [[0.1, -0.2], [0.0, 0.1]])


def test_a_constant_difference_has_a_zero_width_interval():
    cube = np.full((3, 5, 20), 0.02)
    e = headline.crossed_bootstrap(cube, n=200)
    assert (e.value, e.low, e.high) == pytest.approx((0.02, 0.02, 0.02))
    assert e.clear and e.cells == 15 and e.images == 20


def test_the_interval_widens_with_seed_noise_and_skips_missing_cells():
    rng = np.random.default_rng(0)
    quiet = 0.01 + 0.001 * rng.standard_normal((3, 5, 50))
    noisy = quiet + 0.05 * rng.standard_normal((3, 1, 1))  # a shift per seed
    e_quiet, e_noisy = headline.crossed_bootstrap(quiet), headline.crossed_bootstrap(noisy)
    assert e_noisy.high - e_noisy.low > 5 * (e_quiet.high - e_quiet.low)
    holes = quiet.copy()
    holes[2, 4, :] = np.nan  # seed 2, fold 4 not finished
    e = headline.crossed_bootstrap(holes)
    assert e.cells == 14 and e.value == pytest.approx(np.nanmean(holes))
    assert headline.crossed_bootstrap(np.full((1, 1, 3), np.nan)) is None


def test_the_interval_is_that_of_the_resampled_cubes_themselves():
    # The definition, resample by resample: index the cube with the drawn seeds, folds and
    # images and average what is present (the same draws, in the same order).
    rng = np.random.default_rng(1)
    cube = rng.standard_normal((3, 5, 12))
    cube[1, 2, :] = np.nan                 # a run not finished
    cube[0, :, 3] = np.nan                 # an image missing from one seed's runs
    cube[:, :, 5] = np.nan                 # an image in no run: some resamples hold only holes
    draws = np.random.default_rng(7)
    means = []
    for _ in range(300):
        sub = cube[np.ix_(*(draws.integers(0, size, size) for size in cube.shape))]
        means.append(np.nanmean(sub) if not np.isnan(sub).all() else np.nan)
    low, high = np.nanquantile(means, [0.025, 0.975])
    e = headline.crossed_bootstrap(cube, n=300, seed=7)
    assert (e.low, e.high) == pytest.approx((low, high), abs=1e-12)
    assert e.value == pytest.approx(np.nanmean(cube)) and e.cells == 14 and e.images == 12


def test_seed_spread_is_the_mean_over_methods_and_folds_of_the_sd_over_seeds():
    runs = pd.DataFrame({
        "method": ["ew"] * 4 + ["dwa"] * 2, "fold": [0, 0, 1, 1, 0, 0],
        "seed": [0, 1, 0, 1, 0, 1], "status": ["done"] * 6,
        "test_seg_dice": [0.60, 0.64, 0.70, 0.70, 0.50, 0.56]})
    expected = np.mean([np.std([0.60, 0.64], ddof=1), 0.0, np.std([0.50, 0.56], ddof=1)])
    assert headline.seed_spread(runs, "test_seg_dice") == pytest.approx(expected)



def test_the_seed_line_says_how_many_method_fold_pairs_it_rests_on():
    runs = pd.DataFrame({
        "method": ["ew"] * 4 + ["dwa"] * 2, "fold": [0, 0, 1, 1, 0, 0],
        "seed": [0, 1, 0, 1, 0, 1], "status": ["done"] * 6,
        "test_seg_dice": [0.60, 0.64, 0.70, 0.70, 0.50, 0.56],
        "test_cls_acc": [0.8, 0.8, 0.7, 0.7, 0.75, 0.77]})
    assert "averaged over the 3 (method, fold) pairs" in headline.seed_line(runs, {})
    one = runs.iloc[:3]   # ew fold 0 has two seeds, ew fold 1 one
    assert "from the one method and fold" in headline.seed_line(one, {})
    grouped = {("dwa", "Dice"): headline.Estimate(-0.012, -0.04, 0.01, 15, 600),
               ("ew", "Dice"): headline.Estimate(0.004, -0.03, 0.04, 15, 600)}
    assert headline.seed_line(runs, grouped).endswith(
        " ATDWA's largest difference to DWA or EW on the leak-free protocol is 0.012.")
    assert headline.seed_line(runs.iloc[[0, 2, 4]], {}).startswith("Seed-to-seed variation "
                                                                  "cannot be measured yet")

def test_the_first_sentence_gives_direction_size_and_interval():
    e = headline.Estimate(-0.013, -0.046, 0.018, 5, 129)
    f = headline.Estimate(0.030, 0.010, 0.050, 5, 129)
    text = headline.first_sentence({}, {("dwa", "Dice"): e, ("dwa", "accuracy"): f}, 0, 60,
                                   rivals=("dwa",))
    assert "No leak-free run has finished yet (60 planned)" in text
    assert "ATDWA's Dice is 0.013 lower [\u22120.046, +0.018]" in text
    assert "its accuracy 0.030 higher [+0.010, +0.050]" in text
    assert "1 of 2 intervals exclude zero" in text


def test_leak_metrics_split_the_scores_by_a_copy_in_training():
    pi = _per_image({("ew", 0, 0): [0.9, 0.2, 0.8], ("ew", 0, 1): [0.3, 0.7, 0.6]})
    table = pd.DataFrame({"split": "by image", "fold": [0, 0, 0, 1, 1, 1],
                          "id": ["img0", "img1", "img2"] * 2,
                          "leaked": [True, False, False, False, True, False]})
    got = leak.leak_metrics(pi, table).iloc[0]
    assert got["dice_leaked"] == pytest.approx((0.9 + 0.7) / 2)
    assert got["dice_clean"] == pytest.approx((0.2 + 0.8 + 0.3 + 0.6) / 4)
    assert got["acc_leaked"] == 1.0 and got["acc_clean"] == pytest.approx(0.5)
    assert (got["n_leaked"], got["n_clean"]) == (2, 4)
    gap, low, high = leak.leak_gap(pi, table, "seg_dice")
    assert gap == pytest.approx((0.9 + 0.7) / 2 - (0.2 + 0.8 + 0.3 + 0.6) / 4)
    assert low <= gap <= high
    assert np.isnan(leak.leak_gap(pi, table.assign(leaked=False))[0])
