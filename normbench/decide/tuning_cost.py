"""The cost of tuning a norm: its expected best validation accuracy after k random trials of its grid.

Dodge et al. 2019 ("Show Your Work", EMNLP), expected validation performance: with the grid's n trial scores
v_1 <= ... <= v_n and their empirical CDF F(v_i) = i/n (F(v_0) = 0),
    E[max of k trials] = sum_i v_i · (F(v_i)^k − F(v_{i−1})^k),    k = 1 … n,
the expected best of k trials drawn with replacement. A trial here is one learning rate of the grid, scored by
its mean validation accuracy over seeds (diverged seeds = 0). k = 1 is the grid's mean; k = n approaches its max.
"""

import numpy as np


def expected_max(scores, k: int) -> float:
    """E[max of k draws with replacement] from the empirical distribution of `scores` (NaNs dropped)."""
    values = np.sort(np.asarray(scores, dtype=np.float64))
    values = values[np.isfinite(values)]
    if not len(values) or k < 1:
        return float("nan")
    cdf = np.arange(1, len(values) + 1) / len(values)
    previous = np.r_[0.0, cdf[:-1]]
    return float(np.sum(values * (cdf**k - previous**k)))


def expected_max_curve(scores) -> np.ndarray:
    """expected_max(scores, k) for k = 1 … (number of finite scores)."""
    n = int(np.isfinite(np.asarray(scores, dtype=np.float64)).sum())
    return np.array([expected_max(scores, k) for k in range(1, n + 1)])
