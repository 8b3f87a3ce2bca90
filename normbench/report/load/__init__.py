"""Read every run directory into one runs table (config + summary, one row per directory) and its curves.

A run's record is its summary.json; its curves come from metrics.csv, or from its TensorBoard events
when it has no metrics.csv. Anything that cannot be read (corrupt files, missing configuration) or
should not be counted (failed, incomplete, duplicate) is kept as a row with a status and a reason:
never dropped silently, and never a crash.

Modules, one job each:
  record         a run's record, the reader's own statuses, UnreadableRun
  run_dir        one directory -> its record and curves, by what it holds
  summary_file   summary.json, checked against the contract
  identity_file  identity.json, flattened for the comparison sets
  metrics_files  metrics.csv, one file or hundreds parsed together
  coverage       a finished run's train loss covers every step it trained, once
  curves         long rows -> one ascending curve per split/metric
  event_runs     runs read from TensorBoard event files
  run_config     the configuration and hashes of a run without summary.json (hparams or Hydra's config)
  table          the runs table's columns and types
  duplicates     one configuration and seed found twice counts once
  steps          every curve as one long table
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from normbench.report.discover import find_run_dirs
from normbench.report.load.coverage import train_loss_through
from normbench.report.load.duplicates import mark_duplicates
from normbench.report.load.event_runs import EVENTS_ONLY_NOTE
from normbench.report.load.metrics_files import read_metrics_csv, read_metrics_files
from normbench.report.load.record import DUPLICATE, STATUS_ORDER, UNREADABLE, Curves, UnreadableRun
from normbench.report.load.run_dir import READ_CSV, read_run
from normbench.report.load.steps import steps_table
from normbench.report.load.table import runs_frame
from normbench.rundir.contract import METRICS

__all__ = ["EVENTS_ONLY_NOTE", "STATUS_ORDER", "Curves", "LoadedRuns", "UnreadableRun", "load_runs", "read_metrics_csv",
           "read_metrics_files", "steps_table"]


@dataclass
class LoadedRuns:
    runs: pd.DataFrame  # one row per run directory found, whatever its status
    curves: dict[str, Curves]  # run_id -> curves, for the usable runs only


def load_runs(roots, exclude=()) -> LoadedRuns:
    """Every run directory under `roots` (none under `exclude`): the runs table and the usable runs' curves."""
    run_dirs = find_run_dirs(roots, exclude)
    base = _common_base(roots)
    records, curves, csv_paths = {}, {}, {}
    for run in run_dirs:
        run_id = _run_id(run.path, base)
        records[run_id], run_curves = read_run(run, run_id)
        if run_curves is READ_CSV:
            csv_paths[run_id] = run.path / METRICS
        elif run_curves is not None:
            curves[run_id] = run_curves
    _add_metrics_files(csv_paths, records, curves)
    runs = mark_duplicates(runs_frame(list(records.values())))
    for run_id in runs.loc[runs["status"] == DUPLICATE, "run_id"]:
        curves.pop(run_id, None)  # a duplicate's curves would count its run twice
    return LoadedRuns(runs, curves)


def _add_metrics_files(csv_paths: dict[str, Path], records: dict, curves: dict) -> None:
    """Read every metrics.csv at once (far faster than one by one); a bad file, or a train loss that does not
    cover the steps the run's summary reports, makes its run unreadable."""
    through = {}
    for run_id in list(csv_paths):
        last = train_loss_through(records[run_id])
        if isinstance(last, str):
            records[run_id].update(status=UNREADABLE, reason=last)
            del csv_paths[run_id]
        elif last is not None:
            through[run_id] = last
    for run_id, result in read_metrics_files(csv_paths, through).items():
        if isinstance(result, UnreadableRun):
            records[run_id].update(status=UNREADABLE, reason=str(result))
        else:
            curves[run_id] = result


def _common_base(roots) -> Path:
    resolved = [str(Path(root).resolve()) for root in roots]
    return Path(os.path.commonpath(resolved)) if resolved else Path.cwd()


def _run_id(path: Path, base: Path) -> str:
    """The directory relative to the roots' common base, with / separators: short and stable across machines."""
    relative = os.path.relpath(path.resolve(), base)
    return path.resolve().name if relative == "." else relative.replace(os.sep, "/")
