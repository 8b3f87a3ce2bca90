"""Find run directories: any directory holding summary.json, metrics.csv or TensorBoard event files.

The walk goes to any depth but never into hidden directories (.hydra, .git), never into a run directory
(a run is a leaf), and never into a report output directory, so a report never reads itself as runs.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from normbench.rundir.contract import EVENTS_PREFIX, METRICS, SUMMARY

REPORT_MARKER = ".normbench-report"  # written into every report output directory


@dataclass(frozen=True)
class RunDir:
    path: Path
    root: Path  # the directory given on the command line that it was found under
    files: frozenset[str]  # names of the plain files directly in it (listed once, during the walk)

    @property
    def has_summary(self) -> bool:
        return SUMMARY in self.files

    @property
    def has_metrics(self) -> bool:
        return METRICS in self.files

    @property
    def event_files(self) -> list[Path]:
        return sorted(self.path / name for name in self.files if name.startswith(EVENTS_PREFIX))


def is_run_dir(file_names) -> bool:
    return any(name in (SUMMARY, METRICS) or name.startswith(EVENTS_PREFIX) for name in file_names)


def find_run_dirs(roots, exclude=()) -> list[RunDir]:
    """Every run directory under `roots`, sorted by path; each found once even if roots overlap."""
    excluded = {Path(path).resolve() for path in exclude}
    found: dict[Path, RunDir] = {}
    for root in roots:
        root = Path(root)
        for directory, subdirs, files in os.walk(root):
            here = Path(directory)
            if here.resolve() in excluded or REPORT_MARKER in files:
                subdirs[:] = []
                continue
            if is_run_dir(files):
                found.setdefault(here.resolve(), RunDir(here, root, frozenset(files)))
                subdirs[:] = []
            else:
                subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
    return sorted(found.values(), key=lambda run: str(run.path))
