"""Stability metrics on hand-made curves whose answers are known by construction."""

import math

import numpy as np
import pytest

from normbench.report import stability


def test_geometric_loss_has_zero_volatility():
    steps = np.arange(1, 1001)
    loss = 2.0 * 0.995**steps  # the same ratio every step: every log difference is log(0.995)
    assert stability.loss_volatility(steps, loss) == pytest.approx(0.0, abs=1e-12)


def test_volatility_of_alternating_ratio_matches_hand_calculation():
    a = 0.1
    steps = np.arange(1, 2002)
    log_loss = np.where(steps % 2 == 0, a, 0.0)  # log loss up by a, then down by a, ...
    loss = np.exp(log_loss)
    tail = log_loss[steps > steps[-1] / 2]
    m = len(tail) - 1  # differences in the last half
    diffs = np.diff(tail)
    expected = math.sqrt(np.sum((diffs - diffs.mean()) ** 2) / (m - 1))
    assert stability.loss_volatility(steps, loss) == pytest.approx(expected)
    assert expected == pytest.approx(a * math.sqrt(m / (m - 1)), rel=1e-3)  # ±a around a ~0 mean


def test_volatility_only_looks_at_the_last_half():
    steps = np.arange(1, 1001)
    rng = np.random.default_rng(0)
    wild = np.exp(rng.normal(0, 1, 500))  # first half: very noisy
    calm = 0.5 * 0.999 ** np.arange(500)  # second half: geometric
    assert stability.loss_volatility(steps, np.r_[wild, calm]) == pytest.approx(0.0, abs=1e-12)


def test_spike_rate_counts_exactly_the_spikes():
    n, window, positions = 1000, 50, [100, 300, 500, 700, 900]
    loss = np.ones(n)
    loss[positions] = 5.0  # 5 > 2 × median(previous 50) = 2; spikes far apart leave medians at 1
    evaluated = n - window  # the first `window` steps have no full window before them
    assert stability.spike_rate(loss, k=2.0, window=window) == pytest.approx(len(positions) / evaluated)


@pytest.mark.parametrize("window", [5, 50, 51])
def test_spike_rate_matches_its_definition_step_by_step(window):
    loss = np.exp(np.random.default_rng(window).normal(0, 0.6, 700))
    spikes = [loss[i] > 1.5 * np.median(loss[i - window:i]) for i in range(window, len(loss))]
    assert 0 < np.mean(spikes) < 1
    assert stability.spike_rate(loss, k=1.5, window=window) == pytest.approx(np.mean(spikes))


def test_spike_threshold_is_strict_and_configurable():
    loss = np.ones(200)
    loss[150] = 2.0  # exactly k × median: not a spike
    assert stability.spike_rate(loss, k=2.0, window=20) == 0.0
    assert stability.spike_rate(loss, k=1.5, window=20) == pytest.approx(1 / 180)


def test_spike_rate_undefined_without_a_full_window():
    assert math.isnan(stability.spike_rate(np.ones(50), window=50))


def test_loss_at_fraction_averages_the_window_around_ten_percent():
    steps = np.arange(1, 1001)
    loss = steps.astype(float)  # loss = step: the mean over 90..110 is 100
    assert stability.loss_at_fraction(steps, loss, budget=1000, fraction=0.1) == pytest.approx(100.0)


def test_loss_at_fraction_is_nan_for_a_run_that_stopped_before():
    steps = np.arange(1, 51)
    assert math.isnan(stability.loss_at_fraction(steps, np.ones(50), budget=1000, fraction=0.1))


def test_grad_norm_variability_is_cv_of_the_last_half():
    steps = np.arange(1, 9)
    grad_norm = np.array([100.0, 0.1, 50.0, 7.0, 1.0, 3.0, 1.0, 3.0])  # last half: 1, 3, 1, 3
    expected = math.sqrt(4 / 3) / 2  # deviations ±1 from mean 2: sample std sqrt(4/3)
    assert stability.grad_norm_variability(steps, grad_norm) == pytest.approx(expected)


def test_seed_dispersion_std_and_range():
    std, spread = stability.seed_dispersion([0.8, 0.9, 1.0, float("nan")])
    assert std == pytest.approx(0.1)
    assert spread == pytest.approx(0.2)
    assert all(math.isnan(value) for value in stability.seed_dispersion([0.8]))


def test_divergence_share():
    assert stability.divergence_share([True, False, False, False]) == 0.25


def test_generalisation_gap():
    assert stability.generalisation_gap(0.95, 0.85) == pytest.approx(0.10)


def test_train_eval_gap_uses_the_last_step_both_were_evaluated():
    test_steps, test_acc = np.array([0, 100, 200]), np.array([0.1, 0.8, 0.9])
    batch_steps, batch_acc = np.array([0, 100]), np.array([0.1, 0.7])
    assert stability.train_eval_gap(test_steps, test_acc, batch_steps, batch_acc) == pytest.approx(0.1)
    assert math.isnan(stability.train_eval_gap(test_steps, test_acc, np.array([]), np.array([])))
