"""Long rows (step, split, metric, value) -> one ascending (steps, values) curve per split/metric."""

import numpy as np
import pandas as pd

from normbench.report.load.record import Curves


def split_curves(steps: np.ndarray, split: pd.Categorical, metric: pd.Categorical, values: np.ndarray,
                 run_of_row: np.ndarray | None = None):
    """Long rows -> one ascending (steps, values) pair per split/metric, by sorting once (no loop over rows).

    Without `run_of_row`, the rows are one run's and the result is its Curves; with it, the result is
    {run index: Curves}.
    """
    n_metrics = max(len(metric.categories), 1)
    n_pairs = max(len(split.categories), 1) * n_metrics
    # One integer per (run, split, metric): sorting on it gathers each curve's rows into one stretch.
    pair = split.codes.astype(np.int64) * n_metrics + metric.codes
    key = pair if run_of_row is None else run_of_row.astype(np.int64) * n_pairs + pair
    order = np.argsort(key, kind="stable")  # stable: rows of one curve keep their file order
    sorted_keys = key[order]
    starts, ends = _stretches(sorted_keys)
    by_run: dict[int, Curves] = {}
    for start, end in zip(starts, ends):
        run, code = divmod(int(sorted_keys[start]), n_pairs)
        rows = order[start:end]
        name = f"{split.categories[code // n_metrics]}/{metric.categories[code % n_metrics]}"
        by_run.setdefault(run, {})[name] = _ascending(steps[rows], values[rows])
    return by_run.get(0, {}) if run_of_row is None else by_run


def _stretches(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) indices of each run of equal values in a sorted array."""
    if len(sorted_keys):
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    else:
        starts = np.array([], int)
    return starts, np.r_[starts[1:], len(sorted_keys)]


def _ascending(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by step; of a step logged twice (a resumed run), the later row wins."""
    if len(steps) < 2 or np.all(steps[1:] > steps[:-1]):
        return steps, values
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    last_of_step = np.r_[steps[1:] != steps[:-1], True]
    return steps[last_of_step], values[last_of_step]
