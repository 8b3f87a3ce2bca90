"""The number a run hands to Hydra's optimizing sweepers (Optuna, Ax, Nevergrad): its `objective`.

`objective=NAME` names a summary metric (contract.SUMMARY_METRICS, default final_val_acc: runs are chosen on the
validation split, never on the test set, whose figures are only reported) and
`objective_direction` says whether the sweeper maximizes or minimizes it. A run that did not complete
(diverged, failed, invalid, or with no value for the metric) returns the worst value for that direction:
-inf when maximizing, +inf when minimizing. Not NaN: hydra-optuna-sweeper tells Optuna the value as it is,
Optuna refuses NaN for a complete trial, and the sweeper's own fallback (telling a failed trial with that
value) raises again and ends the whole search. An infinite value is a complete trial that is never the best
while any finite one exists (docs/sweeps.md).

Torch-free: the task function and the sweep's callbacks import it.
"""

import math
from collections.abc import Sequence
from enum import Enum

from normbench.errors import ConfigError
from normbench.rundir.contract import COMPLETED, SUMMARY_METRICS, VAL_METRIC_KEYS

DIRECTIONS = ("maximize", "minimize")


def worst(direction: str) -> float:
    return math.inf if direction == "minimize" else -math.inf


def objective_value(summary: dict, metric: str, direction: str) -> float:
    """`summary[metric]` of a completed run, else the worst value for `direction`."""
    value = summary.get(metric) if summary.get("status") == COMPLETED else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return worst(direction)
    return float(value)


def objective_problem(metric: str, direction: str) -> str | None:
    """Why `objective=metric objective_direction=direction` cannot be used (one line), None if it can."""
    if metric not in SUMMARY_METRICS:
        return f"objective={metric} is not a summary metric; choose one of: {', '.join(SUMMARY_METRICS)}"
    if direction not in DIRECTIONS:
        return f"objective_direction={direction} is not allowed; choose one of: {', '.join(DIRECTIONS)}"
    return None


def validation_problem(metric: str, val_fraction: float) -> str | None:
    """Why `objective=metric` has no value in a run without a validation split (one line), None if it has one."""
    if metric in VAL_METRIC_KEYS and val_fraction == 0:
        return (f"objective={metric} reads the validation split, but data.val_fraction=0 holds none out; set "
                f"data.val_fraction to a share in (0, 1), or objective=final_test_acc to choose on the test set")
    return None


def check_sweeper_direction(sweeper, direction: str) -> None:
    """An optimizing sweeper's own `direction` must be the run's objective_direction: hydra-optuna-sweeper
    minimizes by default, which for objective=final_val_acc would search for the worst accuracy."""
    given = sweeper.get("direction") if sweeper is not None else None
    if given is None:
        return  # the basic sweeper, or one without a direction: nothing to agree with
    several = isinstance(given, Sequence) and not isinstance(given, str)  # a multi-objective sweeper's list
    names = [_direction_name(item) for item in (given if several else [given])]
    if names != [direction]:
        raise ConfigError(
            f"hydra.sweeper.direction={names[0] if len(names) == 1 else names} but objective_direction={direction}: "
            f"give the same direction to both (e.g. hydra.sweeper.direction={direction}, or "
            f"objective_direction={names[0]} for an objective to {names[0]})")


def _direction_name(value) -> str:
    """`maximize` from "maximize", "MAXIMIZE" or the sweeper's Direction enum member."""
    return (value.name if isinstance(value, Enum) else str(value)).lower()
