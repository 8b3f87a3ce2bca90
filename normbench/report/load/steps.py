"""The steps table: every usable run's curves as one long table (written as steps.parquet)."""

import numpy as np
import pandas as pd

from normbench.report.load.record import Curves


def steps_table(curves_by_run: dict[str, Curves]) -> pd.DataFrame:
    """All curves as one long table: run_id, step, split, metric, value (categoricals for the strings)."""
    keys = sorted({key for curves in curves_by_run.values() for key in curves})
    splits = sorted({key.partition("/")[0] for key in keys})
    metrics = sorted({key.partition("/")[2] for key in keys})
    # Each "split/metric" key's split and metric as codes: the rows carry a key code, never a string.
    split_of_key = np.array([splits.index(key.partition("/")[0]) for key in keys], dtype=np.int32)
    metric_of_key = np.array([metrics.index(key.partition("/")[2]) for key in keys], dtype=np.int32)
    run_codes, key_codes, steps, values = _rows_end_to_end(curves_by_run, keys)
    return pd.DataFrame({
        "run_id": pd.Categorical.from_codes(run_codes, categories=list(curves_by_run)),
        "step": steps,
        "split": pd.Categorical.from_codes(split_of_key[key_codes], categories=splits),
        "metric": pd.Categorical.from_codes(metric_of_key[key_codes], categories=metrics),
        "value": values,
    })


def _rows_end_to_end(curves_by_run: dict[str, Curves], keys: list[str]):
    """Every curve's rows one after another, as arrays: (run code, key code, step, value)."""
    key_code = {key: code for code, key in enumerate(keys)}
    run_codes, key_codes, steps, values = [], [], [], []
    for run_code, curves in enumerate(curves_by_run.values()):
        for key, (run_steps, run_values) in curves.items():
            run_codes.append(np.full(len(run_steps), run_code, dtype=np.int32))
            key_codes.append(np.full(len(run_steps), key_code[key], dtype=np.int32))
            steps.append(run_steps)
            values.append(run_values)
    return (_joined(run_codes, np.int32), _joined(key_codes, np.int32), _joined(steps, np.int64),
            _joined(values, np.float64))


def _joined(parts: list, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.array([], dtype=dtype)
