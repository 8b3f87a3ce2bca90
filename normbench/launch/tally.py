"""A sweep's ledger, progress lines and final tally, as Hydra callbacks (`hydra.callbacks` in configs/config.yaml).

Hydra reports a failed job only at the end, and only the first one (hydra #2284, #2551). Here:
- `on_multirun_start` (main process) names the sweep, counts its jobs, and exports both through
  environment variables, which every launcher's workers inherit (loky workers, submitit's local
  processes, sbatch's default --export=ALL);
- `on_job_end` (wherever the job runs) leaves one record per job in the sweep's ledger and logs
  "k/N runs done, ETA" from it (a submitit job logs into its own log file: there the submitting process
  itself watches the ledger and logs the lines, normbench.launch.submitit_sweep);
- `on_multirun_end` (main process) reads the ledger back and prints the tally: completed / diverged /
  failed / skipped / invalid. `normbench.cli.train.main` turns it into the exit status after Hydra returns.

The ledger is a directory, `<sweep dir>/.sweeps/<sweep id>/`, with one small JSON file per job number,
written atomically: parallel jobs never interleave half-lines (not even on NFS, where O_APPEND is not
atomic across hosts), and a SLURM job that is requeued overwrites its own record instead of adding one.

Torch-free: Hydra instantiates callbacks while it starts, before any job.
"""

import json
import logging
import os
import secrets
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from normbench.launch.eta import job_plan, remaining_seconds
from normbench.launch.orphans import SWEEP_PID_ENV
from normbench.rundir.atomic import write_json_atomic
from normbench.rundir.contract import FAILED, FINISHED, INTERRUPTED, INVALID, RUN_STATUSES, SKIPPED, SUMMARY

log = logging.getLogger("normbench")

LEDGER_ENV = "NORMBENCH_SWEEP_LEDGER"
TOTAL_ENV = "NORMBENCH_SWEEP_TOTAL"
STARTED_ENV = "NORMBENCH_SWEEP_STARTED"
PLAN = "plan.json"  # in the ledger directory: each job's model and steps (normbench.launch.eta)
STATUSES = (*RUN_STATUSES, SKIPPED, INVALID)  # a job's status in the ledger: its run's, or why it did not train
# FINISHED (contract): a run that trained to its end. PROBLEMS make the sweep exit non-zero (diverged is a result).
PROBLEMS = (FAILED, INTERRUPTED, INVALID)

_job_error: str | None = None  # set by the task for the job running in this process, read by on_job_end
_job_status: str | None = None  # likewise: the task returns its objective (a number) to the sweeper
_last_tally: "Tally | None" = None  # the tally of the sweep that ended last in this process


def note_job_error(message: str) -> None:
    """The task's one-line reason for a failed or invalid job, for that job's ledger record."""
    global _job_error
    _job_error = message


def note_job_status(status: str) -> None:
    """The status of the job running in this process (one of STATUSES), for its ledger record."""
    global _job_status
    _job_status = status


def last_tally() -> "Tally | None":
    return _last_tally


def sweep_total() -> int | None:
    """The number of jobs in the sweep this process works for (None outside a sweep or when unknown)."""
    value = os.environ.get(TOTAL_ENV)
    return int(value) if value else None


@dataclass
class Tally:
    experiment: str
    sweep_dir: str
    total: int | None  # jobs launched, when the sweeper can tell
    seconds: float
    records: list[dict] = field(default_factory=list)

    @property
    def counts(self) -> Counter:
        return Counter(record["status"] for record in self.records)

    @property
    def unreported(self) -> int:
        """Jobs launched that left no record: killed, or lost by the launcher."""
        return max(0, self.total - len(self.records)) if self.total is not None else 0

    @property
    def ok(self) -> bool:
        return not any(self.counts[status] for status in PROBLEMS) and self.unreported == 0

    def table(self) -> str:
        counts = self.counts
        lines = [f"normbench sweep {self.experiment}: {len(self.records)} runs in {format_duration(self.seconds)} "
                 f"({self.sweep_dir})"]
        lines += [f"  {status:<10} {counts[status]:>5}" for status in STATUSES]
        if self.unreported:
            lines.append(f"  {'unreported':<10} {self.unreported:>5}  (launched but never reported: killed or lost)")
        for record in sorted(self.records, key=lambda r: r["job"]):
            if record["status"] in PROBLEMS:
                lines.append(f"  {record['status']}: {record['run']}: {record.get('error') or 'see the log above'}")
        return "\n".join(lines)


class SweepTally(Callback):
    def __init__(self) -> None:
        self._ledger: Path | None = None
        self._started = 0.0
        self._job_started = 0.0

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from normbench.launch.launchers import exit_if_launcher_settings_bad, exit_if_slurm_unavailable

        exit_if_slurm_unavailable(config.hydra.launcher)
        exit_if_launcher_settings_bad(config)
        _exit_if_directions_differ(config)
        sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        self._ledger = Path(str(config.hydra.sweep.dir)) / ".sweeps" / sweep_id
        self._ledger.mkdir(parents=True, exist_ok=True)
        self._started = time.time()
        jobs = swept_jobs(config)
        # An optimizing sweeper (Optuna, Nevergrad) launches as many jobs as it has trials.
        total = len(jobs) if jobs is not None else config.hydra.sweeper.get("n_trials")
        if jobs is not None:  # each job's model and steps, for an ETA that weighs them (normbench.launch.eta)
            write_json_atomic(self._ledger / PLAN, job_plan(config, jobs))
        os.environ[LEDGER_ENV] = str(self._ledger)
        os.environ[SWEEP_PID_ENV] = str(os.getpid())  # a worker process ends when this one dies (launch.orphans)
        os.environ[STARTED_ENV] = repr(self._started)
        if total is None:
            os.environ.pop(TOTAL_ENV, None)
        else:
            os.environ[TOTAL_ENV] = str(total)
        log.info("sweep %s: %s runs into %s", sweep_id, total if total is not None else "an unknown number of",
                 config.hydra.sweep.dir)

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        global _job_error, _job_status
        _job_error = _job_status = None
        self._job_started = time.perf_counter()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        ledger = os.environ.get(LEDGER_ENV)
        if not ledger or config.hydra.mode != RunMode.MULTIRUN:
            return
        status, error = _outcome(job_return)
        job = int(config.hydra.job.num)
        run_dir = Path(config.hydra.runtime.output_dir)
        record = job_record(job, run_dir.name, status, error, seconds=time.perf_counter() - self._job_started,
                            model=OmegaConf.select(config, "model.name"), steps=_trained_steps(run_dir))
        earlier = read_record(Path(ledger), job)
        if status == SKIPPED and earlier is not None and earlier["status"] in FINISHED:
            # A job requeued (SLURM, submitit) after its run had finished: this sweep's own finished run
            # is what it skipped. Its record stays as it was, or the tally would hide that the run trained.
            log.info("job %d ran again (requeued) and found its run finished: it stays %s", job, earlier["status"])
            return
        write_record(Path(ledger), record)
        log_progress(read_ledger(Path(ledger)), record)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        global _last_tally
        assert self._ledger is not None
        _last_tally = Tally(str(config.experiment), str(config.hydra.sweep.dir), sweep_total(),
                            time.time() - self._started, read_ledger(self._ledger))
        print(_last_tally.table(), flush=True)
        for name in (LEDGER_ENV, TOTAL_ENV, STARTED_ENV):
            os.environ.pop(name, None)


def _exit_if_directions_differ(config: DictConfig) -> None:
    """An optimizing sweeper that minimizes what the runs maximize would search for the worst runs, and one reading a
    validation metric of runs without a validation split would compare -inf with -inf: both refused."""
    import sys

    from normbench.errors import ConfigError
    from normbench.launch.objective import check_optimizing_sweeper

    try:
        check_optimizing_sweeper(config.hydra.sweeper, str(config.objective_direction), str(config.objective),
                                 float(config.data.val_fraction))
    except ConfigError as error:
        print(f"normbench: error: {error}", file=sys.stderr)
        sys.exit(2)


def _outcome(job_return: JobReturn) -> tuple[str, str | None]:
    """(status, error) of a job: the status its task noted (note_job_status), else a status it returned (the
    submitting process's stand-in for a job that left no result), or `failed` if an exception escaped it."""
    global _job_error, _job_status
    (error, _job_error), (noted, _job_status) = (_job_error, None), (_job_status, None)
    if job_return.status == JobStatus.FAILED:
        exception = job_return._return_value  # `return_value` would re-raise it
        return FAILED, f"{type(exception).__name__}: {exception}"
    status = noted if noted is not None else job_return.return_value
    return (status if status in STATUSES else FAILED), error


def job_record(job: int, run: str, status: str, error: str | None, seconds: float | None = None,
               model: str | None = None, steps: int | None = None) -> dict:
    """One job's ledger record. `host` and `pid` are the writer's: the job's own, or the submitting
    process's for a job that ended without recording its outcome (normbench.launch.submitit_sweep).
    `model` and `steps` (those its run trained) weigh the remaining jobs in the ETA (normbench.launch.eta)."""
    return {"job": job, "run": run, "status": status, "error": error,
            "seconds": None if seconds is None else round(seconds, 3), "pid": os.getpid(),
            "host": socket.gethostname(), "model": model, "steps": steps}


def _trained_steps(run_dir: Path) -> int | None:
    """The steps this job's run trained, from its summary.json (None if it wrote none)."""
    try:
        steps = json.loads((run_dir / SUMMARY).read_text()).get("steps")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return steps if isinstance(steps, int) else None


def record_path(ledger: Path, job: int) -> Path:
    return ledger / f"job-{job:06d}.json"


def write_record(ledger: Path, record: dict) -> None:
    write_json_atomic(record_path(ledger, int(record["job"])), record)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, RecursionError):
        return None  # absent; or, written atomically, a foreign file


def _read_record(path: Path) -> dict | None:
    return _read_json(path)


def read_ledger(ledger: Path) -> list[dict]:
    return [record for path in sorted(ledger.glob("job-*.json")) if (record := _read_record(path)) is not None]


def read_record(ledger: Path, job: int) -> dict | None:
    return _read_record(record_path(ledger, job))


def log_progress(records: list[dict], record: dict) -> None:
    """Log "k/N runs done, ETA" after `record`, from the sweep's records so far (`record` among them); the ETA
    weighs the remaining runs by their model and steps (normbench.launch.eta)."""
    done, total = len(records), sweep_total()
    elapsed = time.time() - float(os.environ.get(STARTED_ENV, time.time()))
    ledger = os.environ.get(LEDGER_ENV)
    plan = _read_json(Path(ledger) / PLAN) if ledger else None
    remaining = remaining_seconds(records, plan if isinstance(plan, list) else None, total, elapsed)
    eta = ""
    if remaining is not None:
        eta = f", ETA {format_duration(remaining)}"
    of_total = f"/{total}" if total is not None else ""
    log.info("sweep: %d%s runs done, %s elapsed%s (last: %s %s)", done, of_total, format_duration(elapsed), eta,
             record["run"], record["status"])


def count_jobs(config: DictConfig) -> int | None:
    """How many jobs Hydra's basic sweeper launches: the product of the swept values (None for other sweepers)."""
    jobs = swept_jobs(config)
    return None if jobs is None else len(jobs)


def swept_jobs(config: DictConfig) -> list[list[str]] | None:
    """The overrides of each job Hydra's basic sweeper launches, in order (None for other sweepers)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = config.hydra.sweeper
    if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    # The same arguments, in the same order, as BasicSweeper.sweep: its params, then the command line.
    arguments = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    arguments += list(config.hydra.overrides.task)
    try:
        batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(arguments), None)
    except Exception:  # e.g. a glob sweep, which needs the config loader: progress lines go without a total
        return None
    return [list(job) for batch in batches for job in batch]


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
