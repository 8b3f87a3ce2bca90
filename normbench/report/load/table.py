"""The runs table: one row per run directory found, with every column the report reads, typed."""

import pandas as pd

from normbench.rundir.contract import BEST_VAL_STEP, RESULT_KEYS, comparison_norm_label

# RESULT_KEYS: the final train/test/validation metrics and best_val_acc; a run without a validation split (and every
# run written before it existed: an "old run", which the report reads by the old rule) has them null.
RUN_COLUMNS = ("run_id", "path", "status", "reason", "note", "source", "loss_resolution", "experiment", "model",
               "model_cell", "model_label", "norm", "data", "batch_size", "optimizer", "lr", "seed", "group_hash",
               "config_hash", "steps", "max_steps", "diverged_step", "steps_per_s", *RESULT_KEYS, BEST_VAL_STEP,
               "val_fraction", "val_source",
               "identity")  # identity.json's identity, flattened (decide.comparable), as JSON text; None without it
INTEGER_COLUMNS = ("batch_size", "seed", "steps", "max_steps", "diverged_step", BEST_VAL_STEP)
FLOAT_COLUMNS = ("lr", "steps_per_s", "val_fraction", *RESULT_KEYS)


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """Records -> the runs table, with every contract column present (even if no run had it) and typed."""
    runs = pd.DataFrame.from_records(records)
    for column in RUN_COLUMNS:
        if column not in runs:
            runs[column] = None
    # Nullable integers: a failed or unreadable run has no steps, and a None must not turn the column to float.
    for column in INTEGER_COLUMNS:
        runs[column] = pd.to_numeric(runs[column], errors="coerce").astype("Int64")
    for column in FLOAT_COLUMNS:
        runs[column] = pd.to_numeric(runs[column], errors="coerce").astype("float64")
    runs["experiment"] = runs["experiment"].fillna("").astype(str)
    # Runs written before a network with one norm in every layer was labelled by that norm (`batch+batch`
    # is `batch`) read with today's label, so old and new runs of one configuration compare as one norm.
    runs["norm"] = runs["norm"].map(comparison_norm_label, na_action="ignore")
    return runs
