"""One run directory -> its record and curves, by what it holds: summary.json (the run's own record), only
metrics.csv (still running, or killed), or only event files (read as a run of its own)."""

from normbench.report.discover import RunDir
from normbench.report.load.event_runs import event_curves, read_events_only
from normbench.report.load.identity_file import read_identity
from normbench.report.load.record import INCOMPLETE, UNREADABLE, Curves, UnreadableRun, new_record
from normbench.report.load.summary_file import read_summary, summary_columns
from normbench.rundir.contract import FAILED, IDENTITY, METRICS, SUMMARY

READ_CSV = object()  # read_run's answer for "curves in metrics.csv, read later with all the others"


def read_run(run: RunDir, run_id: str) -> tuple[dict, Curves | None]:
    """(record, curves) for one directory; curves is None for a run that stays out of statistics, and
    READ_CSV for one whose metrics.csv is still to be read (all of them are read together)."""
    record = new_record(run_id, run.path)
    try:
        if run.has_summary:
            return _read_with_summary(run, record)
        if run.has_metrics:
            record.update(status=INCOMPLETE, reason=f"no {SUMMARY}: the run is still going, or was killed")
            return record, None
        return read_events_only(run, record)
    except UnreadableRun as error:
        record.update(status=UNREADABLE, reason=str(error))
        return record, None


def _read_with_summary(run: RunDir, record: dict) -> tuple[dict, Curves | None]:
    summary = read_summary(run.path / SUMMARY)
    record.update(summary_columns(summary))
    record["identity"] = read_identity(run.path / IDENTITY)
    if record["status"] == FAILED:
        record["reason"] = f"failed: {summary.get('error') or 'no error message recorded'}"
        return record, None
    if run.has_metrics:
        record.update(source=METRICS, loss_resolution="per step")
        return record, READ_CSV
    if run.event_files:  # metrics.csv is the record; events are the fallback of runs that never wrote one
        record.update(source="events", loss_resolution="log-window mean")
        return record, event_curves(run)[0]
    record.update(source="summary only", note=f"no {METRICS} or event files: curve metrics are missing")
    return record, {}
