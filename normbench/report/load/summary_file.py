"""summary.json: a run's final record, checked against the contract before anything in it is used."""

import json
from pathlib import Path

from normbench.report.load.record import UnreadableRun
from normbench.rundir.contract import (
    REQUIRED_SUMMARY_KEYS,
    RUN_STATUSES,
    SUMMARY,
    model_label,
    summary_value_problem,
)


def read_summary(path: Path) -> dict:
    """The summary as a dict; raises UnreadableRun saying what is wrong with the file."""
    summary = _parse(_text(path))
    missing = [key for key in REQUIRED_SUMMARY_KEYS if summary.get(key) is None]
    if missing:
        raise UnreadableRun(f"{SUMMARY}: missing {', '.join(missing)}")
    if summary["status"] not in RUN_STATUSES:
        raise UnreadableRun(f"{SUMMARY}: unknown status {summary['status']!r}")
    impossible = summary_value_problem(summary)  # a number outside its range is no result (final_test_acc 7.5)
    if impossible:
        raise UnreadableRun(impossible)
    return summary


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableRun(f"{SUMMARY}: cannot be read ({error})") from None


def _parse(text: str) -> dict:
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableRun(f"{SUMMARY}: invalid JSON, truncated or corrupt ({error.msg} at line "
                            f"{error.lineno} column {error.colno})") from None
    except RecursionError:  # nesting deeper than the parser's recursion allows: no summary looks like that
        raise UnreadableRun(f"{SUMMARY}: nested too deeply to be a summary") from None
    if not isinstance(summary, dict):
        raise UnreadableRun(f"{SUMMARY}: not a JSON object")
    return summary


def summary_columns(summary: dict) -> dict:
    """The summary as flat columns: scalars as they are, anything nested as JSON text."""
    columns = {key: value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)
               for key, value in summary.items()}
    try:  # numbers written as strings still group and sort as numbers
        columns.update(batch_size=int(summary["batch_size"]), seed=int(summary["seed"]), lr=float(summary["lr"]))
    except (TypeError, ValueError):
        raise UnreadableRun(f"{SUMMARY}: batch_size, seed and lr must be numbers") from None
    columns.update(model_columns(summary["model"], summary.get("model_cell")))
    return columns


def model_columns(model: str, cell: str | None) -> dict:
    """model, model_cell and model_label: an LSTM and a GRU are compared as different models."""
    if cell is None and "-" in str(model):  # hparams carry the label itself, e.g. "rnn-gru"
        model, cell = str(model).split("-", 1)
    return {"model": model, "model_cell": cell, "model_label": model_label(model, cell)}
