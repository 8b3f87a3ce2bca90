"""A group's curve drawn as the mean over its seeds with a 95% Student-t band.

Curves are aligned on a common step grid (stats.align_curves); EMA smoothing (TensorBoard's) touches the
drawn train-loss curves only, never a number.
"""

import numpy as np

from normbench.decide.stats import align_curves, ema, mean_band
from normbench.report.plots.data import PlotData

MAX_POINTS = 400  # points drawn per curve (display only; every number uses all points)


def band(data: PlotData, group: str, key: str, smooth: float = 0.0, log: bool = False):
    """Mean band over the group's seeds for one curve, or None when no seed logged it. On a log axis the
    band is computed on log values (a geometric mean with a multiplicative interval): an arithmetic
    interval there can reach 0 or below and would plunge off the panel."""
    curves = [data.curves[run_id][key] for run_id in data.run_ids.get(group, ()) if key in data.curves[run_id]]
    curves = [(steps, ema(values, smooth)) for steps, values in curves if len(steps)]
    if not curves:
        return None
    grid, matrix = align_curves(curves)
    if not log:
        return mean_band(grid, matrix)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_band = mean_band(grid, np.log(np.where(matrix > 0, matrix, np.nan)))
    return type(log_band)(log_band.steps, np.exp(log_band.mean), np.exp(log_band.low), np.exp(log_band.high),
                          log_band.n)


def draw_band(ax, band, colour: str, style: dict) -> list:
    """The mean line (drawn) and the interval's polygons (returned: a panel adds all of them at once)."""
    keep = _decimate(len(band.steps))
    steps, mean = band.steps[keep], band.mean[keep]
    ax.plot(steps, mean, color=colour, lw=1.3, ms=4, **style)
    for index in np.flatnonzero(np.diff(band.n) < 0)[:3]:  # where seeds stop (diverged or shorter runs)
        ax.annotate(f"n={band.n[index + 1]}", (band.steps[index + 1], band.mean[index + 1]), fontsize=7,
                    color=colour, xytext=(2, 5), textcoords="offset points")
    return _band_polygons(steps, band.low[keep], band.high[keep])


def seed_counts(bands) -> str:
    """`n=5 seeds/curve`, or `n=3–5 seeds/curve` when curves (or points of one) have different counts."""
    low = min(int(band.n.min()) for band in bands)
    high = max(int(band.n.max()) for band in bands)
    return f"n={high} seeds/curve" if low == high else f"n={low}–{high} seeds/curve"


def _decimate(length: int) -> np.ndarray:
    """Indices of at most MAX_POINTS points spread evenly over a curve, its ends included."""
    if length <= MAX_POINTS:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, MAX_POINTS).round().astype(int))


def _band_polygons(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> list:
    """The interval as one polygon per stretch where it exists (two or more seeds): what fill_between
    draws, built directly since fill_between's general machinery costs more than the rest of a panel."""
    exists = np.isfinite(low) & np.isfinite(high)
    edges = np.flatnonzero(np.diff(np.r_[0, exists.astype(np.int8), 0]))
    return [np.column_stack([np.r_[x[a:b], x[a:b][::-1]], np.r_[high[a:b], low[a:b][::-1]]])
            for a, b in zip(edges[::2], edges[1::2])]
