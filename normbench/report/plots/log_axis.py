"""A log y axis with a few labelled ticks, laid out without matplotlib's (slow, crowded) automatic minor ticks."""

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

CLOSE = 1.35  # an axis end this near (as a ratio) to the next tick is widened to reach it


def log_ticks(ax, values) -> None:
    """Log y axis with a few labelled ticks at 1, 2, (3,) 5 × 10^k: matplotlib's automatic minor log
    ticks are slow to lay out and crowd small panels."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    if not len(values):
        return
    low, high = values.min(), values.max()
    candidates = _log_tick_candidates(low, high)
    low, high = _widened(low, high, candidates)
    ax.set_ylim(low / 1.1, high * 1.1)
    ax.yaxis.set_major_locator(FixedLocator([tick for tick in candidates if low <= tick <= high]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def _widened(low: float, high: float, candidates: list[float]) -> tuple[float, float]:
    """Widen to the next tick outside the data when it is close (or the range is too narrow for three
    ticks), so both ends of the axis are labelled."""
    below, above = max(t for t in candidates if t <= low), min(t for t in candidates if t >= high)
    narrow = sum(low <= tick <= high for tick in candidates) < 3
    low = below if narrow or low / below <= CLOSE else low
    high = above if narrow or above / high <= CLOSE else high
    return low, high


def _log_tick_candidates(low: float, high: float) -> list[float]:
    """Ticks s × 10^k: the sparsest set of s with 4+ ticks in [low, high], else 3+, else s = 1…9."""
    decades = range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)
    sets = [sorted(sub * 10.0**decade for decade in decades for sub in subs)
            for subs in ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9))]
    for needed in (4, 3):
        for ticks in sets[:-1]:
            if sum(low <= tick <= high for tick in ticks) >= needed:
                return ticks
    return sets[-1]
