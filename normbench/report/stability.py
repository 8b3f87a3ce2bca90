"""Stability metrics of one training run: pure functions on numpy arrays (formulas in docs/report.md).

Every function takes the logged points of one run (`steps` ascending, `values` aligned with them) and
returns NaN when the run has too few points for the metric to mean anything, never a made-up number.
"""

import math

import numpy as np

LOSS_FLOOR = 1e-12  # an exact-zero loss would give log(0) = -inf; floored so one such step stays finite


def _floats(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def last_half(steps, values) -> np.ndarray:
    """The values logged in the last half of the run: step > (last logged step) / 2."""
    steps, values = np.asarray(steps), _floats(values)
    if len(steps) == 0:
        return values
    return values[steps > steps[-1] / 2]


def loss_volatility(steps, loss) -> float:
    """Sample std (ddof=1) of log(loss[t]) - log(loss[t-1]) over the last half of the run.

    Step-to-step log ratios, so the measure does not grow with the loss level: a loss falling by a
    constant factor every step has volatility 0.
    """
    tail = last_half(steps, loss)
    if len(tail) < 3:  # two differences at least, for a sample std
        return math.nan
    log_ratios = np.diff(np.log(np.maximum(tail, LOSS_FLOOR)))
    return float(np.std(log_ratios, ddof=1))


def spike_rate(loss, k: float = 2.0, window: int = 50) -> float:
    """Fraction of steps whose loss exceeds k × the median loss of the `window` steps before it.

    Only steps with a full window before them are judged (the first `window` steps are not), so the
    denominator is len(loss) - window.
    """
    loss = _floats(loss)
    if len(loss) <= window:
        return math.nan
    return float(np.mean(loss[window:] > k * previous_window_median(loss, window)))


def previous_window_median(values: np.ndarray, window: int) -> np.ndarray:
    """median(values[i-window:i]) for i = window .. len-1 (the mean of the two middle values for an even
    window), from scipy's rank filter: ~10× faster than pandas' rolling median on long curves."""
    from scipy.ndimage import rank_filter

    upper = rank_filter(values, rank=window // 2, size=window, mode="nearest")
    lower = upper if window % 2 else rank_filter(values, rank=window // 2 - 1, size=window, mode="nearest")
    # A centred window at j covers [j - window//2, j + (window-1)//2]; it is [i-window, i-1] for
    # j = i - ceil(window/2), never reaching past either end for i in [window, len-1].
    shift = -(-window // 2)
    return ((upper + lower) / 2)[window - shift:len(values) - shift]


def loss_at_fraction(steps, loss, budget: float, fraction: float = 0.1, window_fraction: float = 0.02) -> float:
    """Mean loss over the steps within ± window_fraction·budget/2 of fraction·budget (e.g. 9%–11%).

    NaN when the run has no logged point in that window (it diverged earlier, or logs too sparsely).
    """
    steps, loss = np.asarray(steps), _floats(loss)
    if not budget or not math.isfinite(budget) or budget <= 0:
        return math.nan
    centre, half = fraction * budget, max(window_fraction * budget / 2, 0.5)
    inside = np.abs(steps - centre) <= half
    return float(loss[inside].mean()) if inside.any() else math.nan


def coefficient_of_variation(values) -> float:
    """Sample std (ddof=1) / mean; NaN for fewer than two values or a non-positive mean."""
    values = _floats(values)
    values = values[np.isfinite(values)]
    if len(values) < 2 or values.mean() <= 0:
        return math.nan
    return float(values.std(ddof=1) / values.mean())


def grad_norm_variability(steps, grad_norm) -> float:
    """Coefficient of variation of the logged gradient norm over the last half of the run."""
    return coefficient_of_variation(last_half(steps, grad_norm))


def divergence_share(diverged) -> float:
    """Fraction of a group's runs that diverged."""
    diverged = np.asarray(diverged, dtype=bool)
    return float(diverged.mean()) if len(diverged) else math.nan


def seed_dispersion(final_values) -> tuple[float, float]:
    """(sample std, max - min) of a group's final values across seeds; NaN for fewer than two seeds."""
    values = _floats(final_values)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return math.nan, math.nan
    return float(values.std(ddof=1)), float(values.max() - values.min())


def generalisation_gap(final_train_acc: float, final_test_acc: float) -> float:
    """final train accuracy - final test accuracy (fractions; positive = overfitting)."""
    return float(final_train_acc) - float(final_test_acc)


def train_eval_gap(test_steps, test_acc, batch_stats_steps, batch_stats_acc) -> float:
    """BN family: test accuracy with running statistics - test accuracy with batch statistics, at the
    last step where both were evaluated; NaN when the run logged no batch-statistics evaluation."""
    test_steps, batch_stats_steps = np.asarray(test_steps), np.asarray(batch_stats_steps)
    common = np.intersect1d(test_steps, batch_stats_steps)
    if len(common) == 0:
        return math.nan
    last = common[-1]
    running = _floats(test_acc)[test_steps == last][-1]
    batch = _floats(batch_stats_acc)[batch_stats_steps == last][-1]
    return float(running - batch)


def mean_of(values) -> float:
    """Mean of the finite values (e.g. a probe over the run); NaN if there are none."""
    values = _floats(values)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else math.nan
