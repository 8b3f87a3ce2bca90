"""Intervals, contrasts, curve alignment and smoothing against hand calculations."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from normbench.decide.stats import align_curves, ema, mean_band, mean_ci, welch_contrast

T_975_DF4 = 2.7764451  # Student-t 97.5% quantile, 4 degrees of freedom (statistical tables)


def test_mean_ci_matches_hand_calculation():
    result = mean_ci([1, 2, 3, 4, 5])
    sem = math.sqrt(2.5) / math.sqrt(5)  # sample variance of 1..5 is 2.5
    assert result.mean == 3.0
    assert result.n == 5
    assert result.half_width == pytest.approx(T_975_DF4 * sem, rel=1e-6)
    assert (result.low, result.high) == pytest.approx((3 - T_975_DF4 * sem, 3 + T_975_DF4 * sem), rel=1e-6)


def test_single_seed_has_no_interval():
    result = mean_ci([0.7, float("nan")])
    assert result.n == 1 and result.mean == 0.7
    assert math.isnan(result.half_width)


def test_welch_interval_matches_hand_calculation_and_scipy():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 6.0, 8.0, 10.0])
    va, vb = 1.0 / 3, (20.0 / 3) / 4  # s²/n: variances 1 and 20/3
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    half = scipy_stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    result = welch_contrast([(a, 1.0), (b, -1.0)])
    assert result.estimate == pytest.approx(2 - 7)
    assert result.df == pytest.approx(df)
    assert (result.low, result.high) == pytest.approx((-5 - half, -5 + half))
    reference = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (result.low, result.high) == pytest.approx((reference.low, reference.high))


def test_contrast_of_four_groups_is_the_difference_of_drops():
    groups = [np.array([0.9, 0.92]), np.array([0.7, 0.72]), np.array([0.88, 0.9]), np.array([0.87, 0.89])]
    result = welch_contrast([(groups[0], 1), (groups[1], -1), (groups[2], -1), (groups[3], 1)])
    assert result.estimate == pytest.approx((0.91 - 0.71) - (0.89 - 0.88))
    assert result.low < result.estimate < result.high


def test_identical_seeds_give_an_exact_difference():
    result = welch_contrast([(np.array([1.0, 1.0]), 1.0), (np.array([0.5, 0.5]), -1.0)])
    assert (result.estimate, result.low, result.high) == (0.5, 0.5, 0.5)


def test_welch_refuses_a_group_of_one():
    with pytest.raises(ValueError):
        welch_contrast([(np.array([1.0]), 1.0), (np.array([1.0, 2.0]), -1.0)])


def test_align_curves_on_the_union_of_steps_without_extrapolating():
    grid, matrix = align_curves([(np.array([0, 10, 20]), np.array([0.0, 1.0, 2.0])),
                                 (np.array([0, 5, 10]), np.array([10.0, 15.0, 20.0]))])
    assert grid.tolist() == [0, 5, 10, 20]
    assert matrix[0].tolist() == [0.0, 0.5, 1.0, 2.0]  # interpolated at step 5
    assert matrix[1, :3].tolist() == [10.0, 15.0, 20.0]
    assert math.isnan(matrix[1, 3])  # the second curve ends at step 10


def test_mean_band_counts_seeds_per_step():
    grid, matrix = align_curves([(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0])),
                                 (np.array([1, 2]), np.array([3.0, 4.0]))])
    band = mean_band(grid, matrix)
    assert band.n.tolist() == [2, 2, 1]
    assert band.mean.tolist() == [2.0, 3.0, 3.0]
    half = scipy_stats.t.ppf(0.975, 1) * math.sqrt(2.0) / math.sqrt(2)  # values 1 and 3: sd sqrt(2)
    assert band.high[0] == pytest.approx(2.0 + half)
    assert math.isnan(band.low[2])  # one seed: no interval


def test_ema_is_tensorboards_debiased_smoothing():
    values = np.array([1.0, 5.0, 2.0, 8.0, 3.0])
    weight = 0.6
    last, expected = 0.0, []
    for i, value in enumerate(values):  # TensorBoard's scalar smoothing, written out
        last = last * weight + (1 - weight) * value
        expected.append(last / (1 - weight ** (i + 1)))
    assert ema(values, weight) == pytest.approx(expected)
    assert ema(values, weight) == pytest.approx(pd.Series(values).ewm(alpha=1 - weight, adjust=True).mean())
    assert ema(values, 0.0).tolist() == values.tolist()
