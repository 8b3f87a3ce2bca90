"""The run-directory contract: what a run writes and what the report reads, declared once.

Torch-free and schema-free, so the writers (engine, rundir) and the reader (report) share it without either
reaching into the other. A run directory `<results_dir>/<experiment>/<run-name>/` holds:

  .hydra/config.yaml   the resolved config the run used (normbench writes it, after its checks)
  identity.json        {"identity_version", "config_hash", "group_hash", "identity"}: what the run computes
  metrics.csv          tidy long rows `step,split,metric,value`
  events.out.tfevents.*  the same scalars for TensorBoard
  summary.json         the final record and the completion marker, written atomically last
  checkpoint.pt + checkpoint.json   while a checkpointed run is in progress
  .normbench.lock      while a process works in the directory: the flock that makes it the run's one writer
"""

import hashlib
import json

# --- file names ----------------------------------------------------------------------------------------
SUMMARY = "summary.json"
METRICS = "metrics.csv"
IDENTITY = "identity.json"
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_SIDECAR = "checkpoint.json"
HYDRA_DIR = ".hydra"
HYDRA_CONFIG = f"{HYDRA_DIR}/config.yaml"
HYDRA_OVERRIDES = f"{HYDRA_DIR}/overrides.yaml"
EVENTS_PREFIX = "events.out.tfevents."
NORMS_FILE = "norms.json"
# Held with fcntl.flock by the one process writing the run (released by the OS if that process dies); it
# holds that process's pid and host, for the message of a process that finds the run busy.
LOCK = ".normbench.lock"
# The files that show a directory holds (part of) a run's results; a lock file or a checkpoint alone does not.
RUN_FILES = (SUMMARY, METRICS, IDENTITY, HYDRA_CONFIG)

# --- statuses --------------------------------------------------------------------------------------------
COMPLETED, DIVERGED, FAILED = "completed", "diverged", "failed"
INTERRUPTED = "interrupted"  # stopped by Ctrl-C or SIGTERM: run the same command again to resume it
RUN_STATUSES = (COMPLETED, DIVERGED, FAILED, INTERRUPTED)  # what summary.json may say
FINISHED = (COMPLETED, DIVERGED)  # a sweep never runs these again (unless force=true); the report's usable runs
SKIPPED = "skipped"  # a sweep's job that did not train: finished already, or being trained by another process
INVALID = "invalid"  # a sweep's job refused before training (a bad value, an impossible pair)

# --- metrics.csv -----------------------------------------------------------------------------------------
METRICS_COLUMNS = ("step", "split", "metric", "value")
METRICS_HEADER = ",".join(METRICS_COLUMNS)
# The per-step curve every completed run logs for each of steps 1..steps (a diverged one for 1..diverged_step-1).
TRAIN_SPLIT, LOSS_METRIC = "train", "loss"

# --- summary.json ----------------------------------------------------------------------------------------
# The validation split (normbench/data/validation.py): its metrics, on which runs are chosen (test metrics are only
# reported), null where a run has none (data.val_fraction=0, and every run written before the split existed).
VAL_SPLIT = "val"  # metrics.csv's split of the validation loss and accuracy, at every evaluation point
FINAL_VAL_KEYS = ("final_val_loss", "final_val_acc")
BEST_VAL_ACC = "best_val_acc"  # the highest validation accuracy at any evaluation point
BEST_VAL_STEP = "best_val_step"  # its evaluation step, an integer (the first, if it was reached twice)
VAL_METRIC_KEYS = (*FINAL_VAL_KEYS, BEST_VAL_ACC)  # the numbers a choice between runs may read
FINAL_KEYS = ("final_train_loss", "final_train_acc", "final_test_loss", "final_test_acc", *FINAL_VAL_KEYS)
RESULT_KEYS = (*FINAL_KEYS, BEST_VAL_ACC)  # the summary's final numbers: finite, or null
# How a run's validation split was made: summary.json's val_fraction (as configured), val_seed (the split's own
# seed, where carved), val_source (one of VAL_SOURCES) and val_size (examples held out).
VAL_RECORD_KEYS = ("val_fraction", "val_seed", "val_source", "val_size")
VAL_CARVED, VAL_SHIPPED, VAL_NONE = "carved", "shipped", "none"  # from the training data, the data set's own, none
VAL_SOURCES = (VAL_CARVED, VAL_SHIPPED, VAL_NONE)
# The summary's numbers an optimizing sweeper may be given as its objective (`objective=NAME`).
SUMMARY_METRICS = (*RESULT_KEYS, "steps", "steps_per_s", "wall_time_s", "num_params")
# Keys every summary has a value for: the report refuses a summary without them.
REQUIRED_SUMMARY_KEYS = ("status", "group_hash", "model", "norm", "data", "batch_size", "seed", "optimizer", "lr")
# The hyperparameters logged to TensorBoard's HParams plugin (an event-only run is read back from them).
HPARAM_KEYS = ("model", "norm", "data", "batch_size", "optimizer", "lr", "seed")

# --- identity ----------------------------------------------------------------------------------------------
# Version 1 (normbench 0.1): the hash of the whole resolved union config. Version 2: the options a run uses.
IDENTITY_VERSION = 2
# Top-level settings of how a run is carried out or shown, not what it computes: never part of an identity.
NON_IDENTITY_KEYS = ("progress", "results_dir", "force", "device", "num_threads", "experiment", "extra", "user_dir",
                     "objective", "objective_direction", "logger")


def digest(obj) -> str:
    """The 12-hex-digit hash of a JSON-able object (key order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def hashes(identity: dict) -> tuple[str, str]:
    """(config_hash, group_hash) of an identity dict: the group hash leaves out the seed, so the seeds of one
    configuration share it and are the only runs the report averages together."""
    without_seed = {key: value for key, value in identity.items() if key != "seed"}
    return digest(identity), digest(without_seed)


# --- labels ------------------------------------------------------------------------------------------------
def model_label(model: str, cell: str | None = None) -> str:
    """`rnn` with cell `gru` is the model `rnn-gru`: an LSTM and a GRU are compared as different models."""
    return f"{model}-{cell}" if cell else str(model)


MIX_SEPARATOR = "+"


def layer_norms_name(norm: str, layer_norms=None) -> str:
    """Every layer's norm spelled out, as run directory names read it: [batch, batch] is `batch+batch`."""
    return MIX_SEPARATOR.join(layer_norms) if layer_norms else str(norm)


def comparison_norm_label(name: str) -> str:
    """The norm a run is compared as: a network with the same norm in every layer *is* that norm
    (`batch+batch` is `batch`); a mix keeps its layers' names in order (`batch+layer`). Also applied to
    labels read from runs written before this rule, so old and new runs of one norm compare as one."""
    parts = str(name).split(MIX_SEPARATOR)
    return parts[0] if len(set(parts)) == 1 else str(name)


def optimizer_label(name: str, schedule: str = "constant", warmup_steps: int = 0) -> str:
    """`adam` at a constant learning rate; with a warm-up and/or a decay `adam warmup=100 cosine`, so runs that
    differ in their schedule are different settings (a run without a schedule reads as it always did)."""
    parts = [str(name)]
    if warmup_steps:
        parts.append(f"warmup={int(warmup_steps)}")
    if schedule != "constant":
        parts.append(str(schedule))
    return " ".join(parts)


def optimizer_name(label: str) -> str:
    """The optimizer's registered name in an `optimizer_label` (names have no spaces)."""
    return str(label).split(" ", 1)[0]


def norm_label(norm: str, layer_norms=None) -> str:
    """The report's label of a run's norm: `batch` for [batch, batch], `batch+layer` for the blog's mix."""
    return comparison_norm_label(layer_norms_name(norm, layer_norms))


def mix_parts(label: str) -> list[str]:
    """The distinct norms of a mixed label, in layer order (`batch+layer` -> [batch, layer]); [] for one norm."""
    parts = list(dict.fromkeys(str(label).split(MIX_SEPARATOR)))
    return parts if len(parts) > 1 else []
