"""Where a run writes: `<results_dir>/<experiment>/<run-name>/`, computed here and nowhere else.

Hydra's run and sweep directories are these functions (the resolvers `${nb_run_dir:}` and
`${nb_experiment_dir:}` in configs/config.yaml), and `RefuseMisplacedRuns`, the first of Hydra's callbacks,
checks them before Hydra creates any directory: `experiment` must be a plain name (contract.plain_name_problem)
wherever it was set (a study's YAML in a user_dir is a config file like any other), and the directory, resolved
with its symbolic links followed, must lie inside results_dir (contract.outside_problem), and no file may stand
where it or a folder above it goes (`blocked_dir_problem`: Hydra's mkdir would raise a traceback). A refusal is one
line, exit 2, and nothing is written.
"""

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from normbench.errors import ConfigError
from normbench.rundir.contract import outside_problem, plain_name_problem
from normbench.rundir.identity import run_name


def experiment_problem(cfg: DictConfig) -> str | None:
    """Why the config's experiment directory may not be written; None if it may."""
    problem = plain_name_problem(cfg.experiment, "experiment")
    if problem:
        return problem
    return outside_problem(Path(cfg.results_dir) / str(cfg.experiment), cfg.results_dir, "the experiment directory")


def experiment_dir(cfg: DictConfig) -> Path:
    """`<results_dir>/<experiment>`: a sweep's directory, every run of the study below it."""
    problem = experiment_problem(cfg)
    if problem:
        raise ConfigError(problem)
    return Path(cfg.results_dir) / str(cfg.experiment)


def run_dir(cfg: DictConfig, name: str) -> Path:
    """`<results_dir>/<experiment>/<name>`: the directory of the run called `name`."""
    path = experiment_dir(cfg) / name
    problem = outside_problem(path, cfg.results_dir, "the run directory")
    if problem:
        raise ConfigError(problem)
    return path


# Below a sweep's directory: where a job goes whose run directory has a file in its place (`job_subdir`).
BLOCKED_JOBS = ".blocked"


def job_subdir(cfg: DictConfig, name: str) -> str:
    """A sweep job's directory below the sweep's: its run's name (Hydra's `hydra.sweep.subdir`).

    Hydra makes it in the job's process before the task starts, and a file in its place would end the whole
    sweep in a traceback there. Such a job is given an empty folder of its own under `.blocked/` instead:
    its task refuses it in one line (`job_dir_problem`), the sweep counts it invalid and goes on, and the
    file is left as it was."""
    if blocked_dir_problem(experiment_dir(cfg) / name):
        return f"{BLOCKED_JOBS}/{name}"
    return name


def job_dir_problem(cfg: DictConfig, job_dir: Path) -> str | None:
    """Why a sweep's job directory (Hydra joins the sweep's and the run's name) may not hold the run; None if it
    may: a file stands where the run's directory goes, or the directory resolves outside results_dir (a symbolic
    link planted in place of a run's directory would lead out of it)."""
    if job_dir.parent.name == BLOCKED_JOBS:
        return blocked_dir_problem(job_dir.parent.parent / job_dir.name)
    return outside_problem(job_dir, cfg.results_dir, "the run directory")


def remove_unused_job_dir(job_dir: Path) -> None:
    """Remove the directory Hydra made for a job that never ran, if it is still empty (and `.blocked/` with it)."""
    for directory in (job_dir, job_dir.parent) if job_dir.parent.name == BLOCKED_JOBS else (job_dir,):
        try:
            directory.rmdir()  # only an empty directory is removed
        except OSError:
            return


def blocked_dir_problem(directory: Path, instead: str = "choose another results_dir=DIR") -> str | None:
    """Why `directory` cannot be made or used as a directory (a file is in the way), None if it can; `instead`
    says what else the user may choose (`normbench advise --out` checks its report's folder with it too)."""
    path = Path(directory).expanduser().absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or existing.is_dir():
        return None
    where = "is a file" if existing == path else f"is below the file {existing}"
    return f"the output directory {directory} {where}; move the file away, or {instead}"


def _run_dir_of_command(cfg: DictConfig) -> Path:
    return run_dir(cfg, run_name(cfg, cfg.hydra.overrides.task))


class RefuseMisplacedRuns(Callback):
    """Hydra creates the run's (or the sweep's) directory before the task starts: refuse a misplaced one first."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _exit_if_misplaced(lambda: _run_dir_of_command(config))

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        _exit_if_misplaced(lambda: experiment_dir(config))


def _exit_if_misplaced(directory) -> None:
    try:
        problem = blocked_dir_problem(directory())
    except ConfigError as error:
        problem = str(error)
    if problem:
        print(f"normbench: error: {problem}", file=sys.stderr)
        sys.exit(2)
