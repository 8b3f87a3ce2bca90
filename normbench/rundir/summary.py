"""summary.json: the run's final record and its completion marker, always written atomically."""

import json
from pathlib import Path

from normbench.rundir.atomic import write_json_atomic
from normbench.rundir.contract import SUMMARY


def read_summary(run_dir: Path) -> dict | None:
    path = Path(run_dir) / SUMMARY
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None


def write_summary(run_dir: Path, summary: dict) -> None:
    write_json_atomic(Path(run_dir) / SUMMARY, summary)
