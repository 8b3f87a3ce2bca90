"""What one run directory becomes: a record (its row of the runs table) and its curves, or a reason why not."""

import numpy as np

from normbench.rundir.contract import RUN_STATUSES

# The reader's own statuses, for directories that hold no countable run; a run's own status is one of RUN_STATUSES.
INCOMPLETE, UNREADABLE, DUPLICATE = "incomplete", "unreadable", "duplicate"
STATUS_ORDER = (*RUN_STATUSES, INCOMPLETE, UNREADABLE, DUPLICATE)  # the order the report lists statuses in

Curves = dict[str, tuple[np.ndarray, np.ndarray]]  # "split/metric" -> (ascending steps, values)


class UnreadableRun(Exception):
    """The run directory cannot be used; the message is the reason shown in the report."""


def new_record(run_id: str, path) -> dict:
    """The columns every record has from the start, whatever its directory holds: the runs table lists them
    first, in this order."""
    return {"run_id": run_id, "path": str(path), "status": None, "reason": None, "note": None, "source": None,
            "loss_resolution": None}
