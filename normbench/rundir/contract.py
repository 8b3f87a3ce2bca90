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
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

# --- file names ----------------------------------------------------------------------------------------
SUMMARY = "summary.json"
METRICS = "metrics.csv"
IDENTITY = "identity.json"
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_SIDECAR = "checkpoint.json"
HYDRA_DIR = ".hydra"
HYDRA_CONFIG = f"{HYDRA_DIR}/config.yaml"
HYDRA_OVERRIDES = f"{HYDRA_DIR}/overrides.yaml"
HYDRA_RECORD = f"{HYDRA_DIR}/hydra.yaml"
EVENTS_PREFIX = "events.out.tfevents."
NORMS_FILE = "norms.json"
# Held with fcntl.flock by the one process writing the run (released by the OS if that process dies); it
# holds that process's pid and host, for the message of a process that finds the run busy.
LOCK = ".normbench.lock"
# Every name a run writes in its directory (event files aside: their names are new each attempt). None of them may
# be a symbolic link: a run refuses a directory where one is (rundir/atomic.py::refuse_planted_links).
WRITTEN = (LOCK, SUMMARY, METRICS, IDENTITY, CHECKPOINT, CHECKPOINT_SIDECAR, NORMS_FILE, HYDRA_DIR, HYDRA_CONFIG,
           HYDRA_OVERRIDES, HYDRA_RECORD)
# The files that show a directory holds (part of) a run's results; a lock file or a checkpoint alone does not.
RUN_FILES = (SUMMARY, METRICS, IDENTITY, HYDRA_CONFIG)

# --- names and places ---------------------------------------------------------------------------------
# A plain name (an experiment's, the folder every one of its runs goes into) is one path component that no file
# system, shell or spreadsheet reads as more: letters, digits and `_` first, then also `. = + -`; at most 255 bytes.
# No `/`, no `..`, no leading `.` (a hidden folder) or `-` `=` `+` (an option, a formula).
PLAIN_NAME = re.compile(r"\w[\w.=+-]*")
PLAIN_NAME_RULE = "a plain name: letters, digits, _ . = + -, starting with a letter, digit or _"
MAX_NAME_BYTES = 255


def plain_name_problem(name, what: str) -> str | None:
    """Why `name` is not a plain name (a one-line message naming `what`), None if it is one."""
    text = str(name)
    if PLAIN_NAME.fullmatch(text) and len(text.encode()) <= MAX_NAME_BYTES:
        return None
    return f"{what}={text!r} is not {PLAIN_NAME_RULE} (at most {MAX_NAME_BYTES} bytes); rename it"


def outside_problem(path, root, what: str) -> str | None:
    """Why `path` may not be written: once resolved (symbolic links followed), it is not inside `root`; None if
    it is. Checked where a directory to write is computed, whatever config file its parts came from."""
    resolved, top = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    if resolved == top or top in resolved.parents:
        return None
    return f"{what} {path} resolves to {resolved}, outside {root} ({top}); normbench writes only inside it"


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


def train_loss_through(record: dict) -> int | str | None:
    """The last step a finished run's train loss must reach (its summary's steps, or diverged_step - 1);
    None for a run that is not finished; a reason (str) if its summary does not say."""
    status = record.get("status")
    if status not in (COMPLETED, DIVERGED):
        return None
    key = "steps" if status == COMPLETED else "diverged_step"
    value = record.get(key)
    if status == DIVERGED and value is None:
        key, value = "steps", record.get("steps")  # a diverged run's steps end at the step that diverged
    try:
        last = int(value)
    except (TypeError, ValueError):
        return f"{SUMMARY}: a {status} run without a whole number of {key} ({value!r}): its curves cannot be checked"
    return last if status == COMPLETED else last - 1


# --- summary.json ----------------------------------------------------------------------------------------
# The validation split (normbench/data/pipeline/validation.py): its metrics, on which runs are chosen (test metrics
# are only reported), null where a run has none (data.val_fraction=0, and every run written before the split existed).
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

# --- value ranges ----------------------------------------------------------------------------------------
# What every number a run records may be, by its name, so a metric added later (final_val_acc, best_val_step)
# is checked without another edit. The writers record nothing else (tests/report/test_value_ranges.py trains
# runs and checks their records); the report lists a run holding anything else as unreadable, with the reason
# (a summary.json edited to final_test_acc 7.5 is not a 750% accuracy):
#   acc, *_acc                a fraction in [0, 1]
#   loss, *_loss              finite and >= 0; in a diverged run's summary also null or not finite (that is how
#                             it diverged)
#   steps, *_step             a whole number in [0, max_steps] (the run's budget, where its summary gives it)
#   max_steps                 a whole number >= 1;  *_steps (warmup_steps): a whole number >= 0
#   *_per_s (steps_per_s, samples_per_s)   finite and > 0;  *_s (wall_time_s): finite and >= 0
#   num_* (num_params, num_threads)        a whole number >= 0;  batch_size: a whole number >= 1
#   lr, grad_norm             finite and >= 0 (a decayed learning rate reaches 0 at the end)
# null (not recorded) is allowed wherever a key is not required; a key of no rule is not a number to check.


@dataclass(frozen=True)
class ValueRange:
    low: float
    high: float = math.inf
    low_open: bool = False  # low itself is outside (a throughput of 0 steps/s is no throughput)
    whole: bool = False
    budget: bool = False  # at most the run's max_steps

    def holds(self, value, budget: float = math.inf):
        """Whether `value` (a number, or a numpy array of them: elementwise) lies in the range (finite)."""
        above = (value > self.low) if self.low_open else (value >= self.low)
        within = above & (value <= min(self.high, budget if self.budget else math.inf))
        return within & (value % 1 == 0) if self.whole else within

    def describe(self, budget: float = math.inf) -> str:
        high = min(self.high, budget if self.budget else math.inf)
        kind = "a whole number " if self.whole else ""
        if high < math.inf:
            return f"{kind}in {'(' if self.low_open else '['}{self.low:g}, {high:g}]"
        return f"{kind}{'>' if self.low_open else '>='} {self.low:g}"


FRACTION, NON_NEGATIVE = ValueRange(0.0, 1.0), ValueRange(0.0)
STEP = ValueRange(0.0, whole=True, budget=True)


def value_range(name: str) -> ValueRange | None:
    """The range of a recorded number called `name` (a summary key or a metrics.csv metric); None: no rule."""
    if name == "acc" or name.endswith("_acc"):
        return FRACTION
    if name == "loss" or name.endswith("_loss"):
        return NON_NEGATIVE
    if name == "steps" or name.endswith("_step"):
        return STEP
    if name in ("max_steps", "batch_size"):
        return ValueRange(1.0, whole=True)
    if name.endswith("_steps") or name.startswith("num_"):
        return ValueRange(0.0, whole=True)
    if name.endswith("_per_s"):
        return ValueRange(0.0, low_open=True)
    if name.endswith("_s") or name in ("lr", "grad_norm"):
        return NON_NEGATIVE
    return None


def summary_value_problem(summary: dict) -> str | None:
    """Why a summary's numbers cannot be the record of a run (the first number outside its range), or None."""
    budget = run_budget(summary)
    diverged = summary.get("status") == DIVERGED
    for key, value in summary.items():
        rule = value_range(key)
        if rule is None or value is None:
            continue
        number = _number(value)
        if number is None:
            return f"{SUMMARY}: {key}={value!r} is not a number"
        if diverged and rule is NON_NEGATIVE and key.endswith("loss") and not math.isfinite(number):
            continue
        if not (math.isfinite(number) and rule.holds(number, budget)):
            limit = " (the run's max_steps)" if rule.budget and budget < math.inf else ""
            return f"{SUMMARY}: {key}={value!r} is not {rule.describe(budget)}{limit}"
    return None


def run_budget(summary: dict) -> float:
    """The most steps the run could train (its max_steps); unbounded where its summary does not say."""
    budget = _number(summary.get("max_steps"))
    return budget if budget is not None and math.isfinite(budget) and budget >= 1 else math.inf


def _number(value) -> float | None:
    """A JSON number (or a number written as a string) as a float; None for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


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
