"""Refuse, in one line, an output directory that is a file or lies below one, before Hydra makes it (and
before `normbench advise` trains anything for a report it could not write).

Hydra creates a run's directory (hydra.run.dir) and a sweep's (hydra.sweep.dir, <results_dir>/<experiment>)
before any normbench code runs; where a file stands in the way its mkdir raises, and the user gets a traceback.
A Hydra callback runs just before that: it names the file and what to do instead.
"""

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def blocked_dir_problem(directory: Path, instead: str = "choose another results_dir=DIR or experiment=NAME"
                        ) -> str | None:
    """Why `directory` cannot be made or used as a directory (a file is in the way), None if it can; `instead`
    says what else the user may choose."""
    path = Path(directory).expanduser().absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or existing.is_dir():
        return None
    where = "is a file" if existing == path else f"is below the file {existing}"
    return f"the output directory {directory} {where}; move the file away, or {instead}"


def _exit_if_blocked(directory) -> None:
    problem = blocked_dir_problem(Path(str(directory)))
    if problem:
        print(f"normbench: error: {problem}", file=sys.stderr)
        sys.exit(2)


class OutputDirCheck(Callback):
    """hydra.run.dir (one run) and hydra.sweep.dir (a sweep) checked before Hydra creates them."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _exit_if_blocked(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        _exit_if_blocked(config.hydra.sweep.dir)
