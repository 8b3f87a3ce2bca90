"""Read every run directory into one runs table (config + summary, one row per directory) and its curves.

A run's record is its summary.json; its curves come from metrics.csv, or from its TensorBoard events
when it has no metrics.csv. Anything that cannot be read (corrupt files, missing configuration) or
should not be counted (failed, incomplete, duplicate) is kept as a row with a status and a reason:
never dropped silently, and never a crash.
"""

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from normbench.report.discover import RunDir, find_run_dirs
from normbench.report.events import CorruptEventFile, read_events
from normbench.rundir.contract import (COMPLETED, DIVERGED, FAILED, FINAL_KEYS, FINISHED, HPARAM_KEYS, HYDRA_CONFIG,
                                       METRICS, METRICS_COLUMNS, METRICS_HEADER, NON_IDENTITY_KEYS,
                                       REQUIRED_SUMMARY_KEYS, RUN_STATUSES, SUMMARY, digest, model_label, norm_label)

# The reader's own statuses, for directories that hold no usable run; a run's own status is one of RUN_STATUSES.
INCOMPLETE, UNREADABLE, DUPLICATE = "incomplete", "unreadable", "duplicate"
STATUS_ORDER = (*RUN_STATUSES, INCOMPLETE, UNREADABLE, DUPLICATE)
CSV_DTYPES = dict(zip(METRICS_COLUMNS, ("int64", "category", "category", "float64")))
# An event-only run's identity is the config minus the settings of how it was carried out, as the writer hashes
# it today (identity v1, normbench/config/schema.py). The contract's NON_IDENTITY_KEYS (v2) also leaves out
# experiment and extra; dropping experiment here would make one configuration run in two experiments a duplicate.
_STILL_HASHED = ("experiment", "extra")
EXECUTION_KEYS = tuple(key for key in NON_IDENTITY_KEYS if key not in _STILL_HASHED)
EVENTS_ONLY_NOTE = (f"no {SUMMARY}: read from TensorBoard events; status and final values inferred from the "
                    "last logged points")

Curves = dict[str, tuple[np.ndarray, np.ndarray]]  # "split/metric" -> (ascending steps, values)
READ_CSV = object()  # read_run's answer for "curves in metrics.csv, read later with all the others"


class UnreadableRun(Exception):
    """The run directory cannot be used; the message is the reason shown in the report."""


@dataclass
class LoadedRuns:
    runs: pd.DataFrame  # one row per run directory found, whatever its status
    curves: dict[str, Curves]  # run_id -> curves, for the usable runs only


def load_runs(roots, exclude=()) -> LoadedRuns:
    run_dirs = find_run_dirs(roots, exclude)
    base = _common_base(roots)
    records, curves, csv_paths = {}, {}, {}
    for run in run_dirs:
        run_id = _run_id(run.path, base)
        record, run_curves = read_run(run, run_id)
        records[run_id] = record
        if run_curves is READ_CSV:
            csv_paths[run_id] = run.path / METRICS
        elif run_curves is not None:
            curves[run_id] = run_curves
    for run_id, result in read_metrics_files(csv_paths).items():
        if isinstance(result, UnreadableRun):
            records[run_id].update(status=UNREADABLE, reason=str(result))
        else:
            curves[run_id] = result
    runs = _mark_duplicates(_runs_frame(list(records.values())))
    for run_id in runs.loc[runs["status"] == DUPLICATE, "run_id"]:
        curves.pop(run_id, None)
    return LoadedRuns(runs, curves)


def read_run(run: RunDir, run_id: str) -> tuple[dict, Curves | None]:
    """(record, curves) for one directory; curves is None for a run that stays out of statistics, and
    READ_CSV for one whose metrics.csv is still to be read (all of them are read together)."""
    record = {"run_id": run_id, "path": str(run.path), "status": None, "reason": None, "note": None,
              "source": None, "loss_resolution": None}
    try:
        if run.has_summary:
            return _read_with_summary(run, record)
        if run.has_metrics:
            record.update(status=INCOMPLETE, reason=f"no {SUMMARY}: the run is still going, or was killed")
            return record, None
        return _read_events_only(run, record)
    except UnreadableRun as error:
        record.update(status=UNREADABLE, reason=str(error))
        return record, None


def _read_with_summary(run: RunDir, record: dict) -> tuple[dict, Curves | None]:
    summary = read_summary(run.path / SUMMARY)
    record.update(summary_columns(summary))
    if record["status"] == FAILED:
        record["reason"] = f"failed: {summary.get('error') or 'no error message recorded'}"
        return record, None
    if run.has_metrics:
        record.update(source=METRICS, loss_resolution="per step")
        return record, READ_CSV
    if run.event_files:
        record.update(source="events", loss_resolution="log-window mean")
        return record, _event_curves(run)[0]
    record.update(source="summary only", note=f"no {METRICS} or event files: curve metrics are missing")
    return record, {}


def _read_events_only(run: RunDir, record: dict) -> tuple[dict, Curves]:
    curves, finals, hparams, diverged_step = _event_curves(run)
    config = config_from_hparams(hparams) or config_from_hydra(run.path / HYDRA_CONFIG)
    if config is None:
        raise UnreadableRun(f"event files only, and neither their hparams nor {HYDRA_CONFIG} give the "
                            f"configuration ({', '.join(HPARAM_KEYS)}): cannot group it")
    config.setdefault("experiment", run.path.parent.name)  # results/<experiment>/<run-name>/
    # Everything in the config identifies the configuration, except how the run was carried out.
    identity = {key: value for key, value in config.items() if key not in EXECUTION_KEYS}
    without_seed = {key: value for key, value in identity.items() if key != "seed"}
    steps = max((int(s[-1]) for s, _ in curves.values() if len(s)), default=0)
    record.update(
        status=DIVERGED if diverged_step is not None else COMPLETED,
        source="events", loss_resolution="log-window mean", note=EVENTS_ONLY_NOTE,
        run_name=run.path.name, config_hash="tb-" + digest(identity), group_hash="tb-" + digest(without_seed),
        steps=steps, max_steps=steps, diverged_step=diverged_step,
        **_model_columns(config["model"], config.get("model_cell")),
        **{key: config[key] for key in ("experiment", *HPARAM_KEYS) if key != "model"},
    )
    for key in FINAL_KEYS:  # the trainer logs its final values as hparam/final_* scalars
        tag = key.removeprefix("final_").replace("_", "/", 1)  # final_test_acc -> test/acc
        record[key] = None if diverged_step is not None else finals.get(key, _last(curves.get(tag)))
    return record, curves


def _event_curves(run: RunDir) -> tuple[Curves, dict, dict, int | None]:
    """(finite curves, hparam/final_* values, hparams, first step with a non-finite train loss)."""
    try:
        data = read_events(run.path, run.event_files)
    except CorruptEventFile as error:
        raise UnreadableRun(f"corrupt event file {error}") from None
    curves, finals = {}, {}
    for tag, (steps, values) in data.scalars.items():
        if tag.startswith("hparam/"):
            finals[tag.removeprefix("hparam/")] = _last((steps, values))
        else:
            finite = np.isfinite(values)
            curves[tag] = (steps[finite], values[finite])
    loss_steps, loss = data.scalars.get("train/loss", (np.array([], dtype=np.int64), np.array([])))
    non_finite = loss_steps[~np.isfinite(loss)]
    return curves, finals, data.hparams, int(non_finite[0]) if len(non_finite) else None


def _last(series) -> float | None:
    if series is None or len(series[1]) == 0:
        return None
    value = float(series[1][-1])
    return value if math.isfinite(value) else None


# --- summary.json ------------------------------------------------------------------------------------

def read_summary(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableRun(f"{SUMMARY}: cannot be read ({error})") from None
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableRun(f"{SUMMARY}: invalid JSON, truncated or corrupt ({error.msg} at line "
                            f"{error.lineno} column {error.colno})") from None
    if not isinstance(summary, dict):
        raise UnreadableRun(f"{SUMMARY}: not a JSON object")
    missing = [key for key in REQUIRED_SUMMARY_KEYS if summary.get(key) is None]
    if missing:
        raise UnreadableRun(f"{SUMMARY}: missing {', '.join(missing)}")
    if summary["status"] not in RUN_STATUSES:
        raise UnreadableRun(f"{SUMMARY}: unknown status {summary['status']!r}")
    return summary


def summary_columns(summary: dict) -> dict:
    """The summary as flat columns: scalars as they are, anything nested as JSON text."""
    columns = {key: value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)
               for key, value in summary.items()}
    try:
        columns.update(batch_size=int(summary["batch_size"]), seed=int(summary["seed"]), lr=float(summary["lr"]))
    except (TypeError, ValueError):
        raise UnreadableRun(f"{SUMMARY}: batch_size, seed and lr must be numbers") from None
    columns.update(_model_columns(summary["model"], summary.get("model_cell")))
    return columns


def _model_columns(model: str, cell: str | None) -> dict:
    """`rnn` with cell `gru` is the model `rnn-gru`: an LSTM and a GRU are compared as different models."""
    if cell is None and "-" in str(model):  # hparams carry the label itself, e.g. "rnn-gru"
        model, cell = str(model).split("-", 1)
    return {"model": model, "model_cell": cell, "model_label": model_label(model, cell)}


# --- metrics.csv -------------------------------------------------------------------------------------

def read_metrics_csv(path: Path) -> Curves:
    """One metrics.csv; raises UnreadableRun saying what is wrong with it."""
    body = _metrics_body(path)
    if not body.strip():
        return {}
    try:
        frame = pd.read_csv(io.BytesIO(body), engine="c", header=None, names=list(CSV_DTYPES), dtype=CSV_DTYPES)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UnreadableRun(f"{METRICS}: cannot be parsed ({str(error).splitlines()[0]})") from None
    split, metric, values = frame["split"].array, frame["metric"].array, frame["value"].to_numpy()
    bad = _bad_rows(split, metric, values)
    if bad.any():
        raise UnreadableRun(_bad_rows_reason(bad))
    return split_curves(frame["step"].to_numpy(), split, metric, values)


def read_metrics_files(paths: dict[str, Path]) -> dict[str, Curves | UnreadableRun]:
    """Many metrics.csv at once: run_id -> its curves, or the UnreadableRun saying why not.

    pandas' C parser has a fixed cost per call that dominates for hundreds of small files, so the files'
    bodies are joined into one buffer and parsed by one read_csv call; each row's run is known from the
    files' line counts. Any doubt (a parse error, a blank line) sends the files concerned through
    read_metrics_csv one by one, which finds and names the problem.
    """
    results, bodies = {}, {}
    for run_id, path in paths.items():
        try:
            body = _metrics_body(path)
        except UnreadableRun as error:
            results[run_id] = error
            continue
        if b"\n\n" in body or body.startswith(b"\n"):  # blank lines: read alone (pandas skips them there)
            results[run_id] = _read_alone(path)
        else:
            bodies[run_id] = body if body.endswith(b"\n") or not body else body + b"\n"
    if not bodies:
        return results
    counts = np.array([body.count(b"\n") for body in bodies.values()])
    try:
        frame = pd.read_csv(io.BytesIO(b"".join(bodies.values())), engine="c", header=None,
                            names=list(CSV_DTYPES), dtype=CSV_DTYPES)
        if len(frame) != counts.sum():
            raise ValueError("row count differs from line count")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return {**results, **{run_id: _read_alone(paths[run_id]) for run_id in bodies}}
    run_of_row = np.repeat(np.arange(len(bodies)), counts)
    split, metric, values = frame["split"].array, frame["metric"].array, frame["value"].to_numpy()
    bad = _bad_rows(split, metric, values)
    starts = np.r_[0, np.cumsum(counts)]
    for index, run_id in enumerate(bodies):
        rows = slice(starts[index], starts[index + 1])
        if bad[rows].any():
            results[run_id] = UnreadableRun(_bad_rows_reason(bad[rows]))
    curves = split_curves(frame["step"].to_numpy(), split, metric, values, run_of_row)
    for index, run_id in enumerate(bodies):
        if run_id not in results:
            results[run_id] = curves.get(index, {})
    return results


def _metrics_body(path: Path) -> bytes:
    """metrics.csv without its header line, which must be the contract's."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableRun(f"{METRICS}: cannot be read ({error})") from None
    header, _, body = data.partition(b"\n")
    if header.decode("utf-8", "replace").strip() != METRICS_HEADER:
        raise UnreadableRun(f"{METRICS}: header is {header[:60].decode('utf-8', 'replace')!r}, "
                            f"expected {METRICS_HEADER!r}")
    return body


def _read_alone(path: Path) -> Curves | UnreadableRun:
    try:
        return read_metrics_csv(path)
    except UnreadableRun as error:
        return error


def _bad_rows(split: pd.Categorical, metric: pd.Categorical, values: np.ndarray) -> np.ndarray:
    """Rows with an empty field (a truncated line) or a non-finite value: the contract has neither."""
    return (split.codes < 0) | (metric.codes < 0) | ~np.isfinite(values)


def _bad_rows_reason(bad: np.ndarray) -> str:
    return (f"{METRICS}: {int(bad.sum())} incomplete or non-finite rows "
            f"(first at line {int(np.flatnonzero(bad)[0]) + 2})")


def split_curves(steps: np.ndarray, split: pd.Categorical, metric: pd.Categorical, values: np.ndarray,
                 run_of_row: np.ndarray | None = None):
    """Long rows -> one ascending (steps, values) pair per split/metric, by sorting once (no loop over rows).

    Without `run_of_row`, the rows are one run's and the result is its Curves; with it, the result is
    {run index: Curves}.
    """
    n_metrics = max(len(metric.categories), 1)
    n_pairs = max(len(split.categories), 1) * n_metrics
    pair = split.codes.astype(np.int64) * n_metrics + metric.codes
    key = pair if run_of_row is None else run_of_row.astype(np.int64) * n_pairs + pair
    order = np.argsort(key, kind="stable")  # stable: rows of one curve keep their file order
    sorted_keys = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(key) else np.array([], int)
    ends = np.r_[starts[1:], len(key)]
    by_run: dict[int, Curves] = {}
    for start, end in zip(starts, ends):
        run, code = divmod(int(sorted_keys[start]), n_pairs)
        rows = order[start:end]
        name = f"{split.categories[code // n_metrics]}/{metric.categories[code % n_metrics]}"
        by_run.setdefault(run, {})[name] = _ascending(steps[rows], values[rows])
    return by_run.get(0, {}) if run_of_row is None else by_run


def _ascending(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by step; of a step logged twice (a resumed run), the later row wins."""
    if len(steps) < 2 or np.all(steps[1:] > steps[:-1]):
        return steps, values
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    last_of_step = np.r_[steps[1:] != steps[:-1], True]
    return steps[last_of_step], values[last_of_step]


# --- configuration of event-only runs ---------------------------------------------------------------

def config_from_hparams(hparams: dict) -> dict | None:
    if any(hparams.get(key) is None for key in HPARAM_KEYS):
        return None
    try:
        return {**hparams, "batch_size": int(hparams["batch_size"]), "seed": int(hparams["seed"]),
                "lr": float(hparams["lr"]), "model": str(hparams["model"]), "norm": str(hparams["norm"])}
    except (TypeError, ValueError):
        return None


def config_from_hydra(path: Path) -> dict | None:
    """model.name, norm.name, data.name, batch_size, seed, optim.name, optim.lr of Hydra's job config."""
    import yaml

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        layer_norms = config["model"].get("layer_norms")
        # The norm's name is only looked up when the model has no norm per layer (as the label reads it).
        norm = norm_label(None if layer_norms else config["norm"]["name"], layer_norms)
        flat = {
            "experiment": config.get("experiment"),
            "model": config["model"]["name"],
            "model_cell": config["model"].get("cell") if config["model"]["name"] == "rnn" else None,
            "norm": norm,
            "data": config["data"]["name"],
            "batch_size": int(config["batch_size"]),
            "seed": int(config["seed"]),
            "optimizer": config["optim"]["name"],
            "lr": float(config["optim"]["lr"]),
        }
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError):
        return None
    # Everything else in the config (widths, budgets, ...) also separates configurations.
    rest = {key: json.dumps(value, sort_keys=True, default=str) for key, value in config.items()
            if key not in ("seed", "batch_size", "experiment", *EXECUTION_KEYS)}
    return {**{key: value for key, value in flat.items() if value is not None}, "config_rest": digest(rest)}


# --- the tables --------------------------------------------------------------------------------------

RUN_COLUMNS = ("run_id", "path", "status", "reason", "note", "source", "loss_resolution", "experiment", "model",
               "model_cell", "model_label", "norm", "data", "batch_size", "optimizer", "lr", "seed", "group_hash",
               "config_hash", "steps", "max_steps", "diverged_step", *FINAL_KEYS)


def _runs_frame(records: list[dict]) -> pd.DataFrame:
    """Records -> the runs table, with every contract column present (even if no run had it) and typed."""
    runs = pd.DataFrame.from_records(records)
    for column in RUN_COLUMNS:
        if column not in runs:
            runs[column] = None
    for column in ("batch_size", "seed", "steps", "max_steps", "diverged_step"):
        runs[column] = pd.to_numeric(runs[column], errors="coerce").astype("Int64")
    for column in ("lr", *FINAL_KEYS):
        runs[column] = pd.to_numeric(runs[column], errors="coerce").astype("float64")
    runs["experiment"] = runs["experiment"].fillna("").astype(str)
    return runs


def _mark_duplicates(runs: pd.DataFrame) -> pd.DataFrame:
    """The same configuration and seed found twice (e.g. a copied results folder) is counted once."""
    usable = runs[runs["status"].isin(FINISHED) & runs["config_hash"].notna()]
    repeated = usable.index[usable.duplicated("config_hash")]
    if repeated.empty:
        return runs
    first_id = usable.drop_duplicates("config_hash").set_index("config_hash")["run_id"]
    runs.loc[repeated, "reason"] = ("duplicate of " + runs.loc[repeated, "config_hash"].map(first_id)
                                    + " (same config_hash): counted once")
    runs.loc[repeated, "status"] = DUPLICATE
    return runs


def steps_table(curves_by_run: dict[str, Curves]) -> pd.DataFrame:
    """All curves as one long table: run_id, step, split, metric, value (categoricals for the strings)."""
    keys = sorted({key for curves in curves_by_run.values() for key in curves})
    key_code = {key: code for code, key in enumerate(keys)}
    splits = sorted({key.partition("/")[0] for key in keys})
    metrics = sorted({key.partition("/")[2] for key in keys})
    split_of_key = np.array([splits.index(key.partition("/")[0]) for key in keys], dtype=np.int32)
    metric_of_key = np.array([metrics.index(key.partition("/")[2]) for key in keys], dtype=np.int32)
    run_codes, key_codes, steps, values = [], [], [], []
    for run_code, curves in enumerate(curves_by_run.values()):
        for key, (run_steps, run_values) in curves.items():
            run_codes.append(np.full(len(run_steps), run_code, dtype=np.int32))
            key_codes.append(np.full(len(run_steps), key_code[key], dtype=np.int32))
            steps.append(run_steps)
            values.append(run_values)
    key_codes = _joined(key_codes, np.int32)
    return pd.DataFrame({
        "run_id": pd.Categorical.from_codes(_joined(run_codes, np.int32), categories=list(curves_by_run)),
        "step": _joined(steps, np.int64),
        "split": pd.Categorical.from_codes(split_of_key[key_codes], categories=splits),
        "metric": pd.Categorical.from_codes(metric_of_key[key_codes], categories=metrics),
        "value": _joined(values, np.float64),
    })


def _joined(parts: list, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.array([], dtype=dtype)


def _common_base(roots) -> Path:
    resolved = [str(Path(root).resolve()) for root in roots]
    return Path(os.path.commonpath(resolved)) if resolved else Path.cwd()


def _run_id(path: Path, base: Path) -> str:
    relative = os.path.relpath(path.resolve(), base)
    return path.resolve().name if relative == "." else relative.replace(os.sep, "/")
