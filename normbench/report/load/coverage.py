"""A finished run's per-step train loss must cover every step it trained, each exactly once.

The trainer logs the train loss of every step to metrics.csv. A completed run covers steps 1..steps, a
diverged one 1..diverged_step-1 (nothing is logged at or after the step that diverged). A curve with a gap
(rows lost by a kill), cut short, with a step twice (appended twice after a resume) or with steps past the
end does not describe the run its summary reports: the run is listed as unreadable with the reason, and
never used (the last step a run must reach: contract.train_loss_through, which `train` checks too). Runs
read from TensorBoard events are not checked: their train loss is a log-window mean.
"""

import numpy as np

from normbench.rundir.contract import LOSS_METRIC, METRICS, TRAIN_SPLIT

TRAIN_LOSS = f"{TRAIN_SPLIT}/{LOSS_METRIC}"


def coverage_problem(steps: np.ndarray, through: int) -> str | None:
    """Why train loss rows at `steps` (in file order, duplicates kept) do not cover 1..through exactly once."""
    steps = np.asarray(steps, dtype=np.int64)
    logged, counts = np.unique(steps, return_counts=True)
    span = f"steps 1..{through}"
    if (counts > 1).any():
        repeated = logged[counts > 1]
        return (f"{METRICS}: train loss logged more than once at {len(repeated)} steps (first: step "
                f"{int(repeated[0])})")
    outside = logged[(logged < 1) | (logged > through)]
    if len(outside):
        return (f"{METRICS}: train loss at {len(outside)} steps outside {span}, which the summary reports "
                f"(first: step {int(outside[0])})")
    if len(logged) < through:
        missing = np.setdiff1d(np.arange(1, through + 1), logged, assume_unique=True)
        where = "cut short" if missing[0] == len(logged) + 1 else "gaps"
        return (f"{METRICS}: train loss missing at {len(missing)} of {span} ({where}: first missing step "
                f"{int(missing[0])})")
    return None
