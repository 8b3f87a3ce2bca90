"""Stability across learning rates, per norm: its trainable LR window, its divergence over the grid.

Window rule (docs/report.md): over the swept learning rates of one norm (at its chosen values of the other tuned
settings), a learning rate is *trainable* when no seed diverged there and its mean validation accuracy (diverged
seeds = 0) is within `tolerance` of the norm's best mean. The window is the longest run of consecutive trainable
grid points that contains the best learning rate; it is empty when a seed diverged at the best one. Its width is
log10(high / low) decades (0 for a single point).
"""

import math
from dataclasses import dataclass

import numpy as np

WINDOW_TOLERANCE = 0.02  # 2 pp of accuracy


@dataclass(frozen=True)
class Window:
    low: float  # NaN: no window
    high: float
    best_lr: float

    @property
    def decades(self) -> float:
        return math.log10(self.high / self.low) if np.isfinite(self.low) else math.nan

    @property
    def text(self) -> str:
        if not np.isfinite(self.low):
            return "none (a seed diverged at the best learning rate)"
        if self.low == self.high:
            return f"{self.low:g} only, 0 decades"
        return f"{self.low:g} … {self.high:g}, {self.decades:.1f} decades"


def lr_window(lrs, means, diverged, tolerance: float = WINDOW_TOLERANCE) -> Window:
    """The window of one norm's grid: `lrs` ascending, `means` the mean score at each (diverged = 0),
    `diverged` the number of diverged seeds at each."""
    lrs, means, diverged = np.asarray(lrs, float), np.asarray(means, float), np.asarray(diverged)
    if not len(lrs) or not np.isfinite(means).any():
        return Window(math.nan, math.nan, math.nan)
    best = int(np.nanargmax(means))  # the first of equal bests: the smallest lr, as selection.best_option
    trainable = (diverged == 0) & np.isfinite(means) & (means >= means[best] - tolerance)
    if not trainable[best]:
        return Window(math.nan, math.nan, float(lrs[best]))
    low = best
    while low > 0 and trainable[low - 1]:
        low -= 1
    high = best
    while high < len(lrs) - 1 and trainable[high + 1]:
        high += 1
    return Window(float(lrs[low]), float(lrs[high]), float(lrs[best]))


def divergence_over_grid(lrs, diverged, runs) -> tuple[float, float]:
    """(share of the grid's runs that diverged, the smallest learning rate at which any seed diverged or NaN)."""
    lrs, diverged, runs = np.asarray(lrs, float), np.asarray(diverged), np.asarray(runs)
    share = float(diverged.sum() / runs.sum()) if runs.sum() else math.nan
    smallest = float(lrs[diverged > 0].min()) if (diverged > 0).any() else math.nan
    return share, smallest
