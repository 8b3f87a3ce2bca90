"""Sweeps through submitit (launcher=slurm, launcher=submitit_local) that wait for every job, report
progress on the submitting terminal, and tally a job that ended without a result as a failed run.

hydra-submitit-launcher collects its jobs with `[j.results()[0] for j in jobs]`: the first job that
leaves no result (cancelled, killed by the OOM killer or a node failure, out of requeues) raises
`UncompletedJobError` in the submitting process. The sweep then ends with a traceback and no tally while
the other array tasks still run, and running the command again at once trains their run directories a
second time. Its jobs also log the sweep's "k/N runs done" lines into their own log files only.

normbench's launcher plugin (hydra_plugins/normbench_launcher, the `_target_` of configs/launcher/slurm.yaml
and submitit_local.yaml) subclasses the plugin's SlurmLauncher and LocalLauncher with `WaitingLauncher`:
it submits exactly as the plugin does, then `wait_for_jobs`:
- polls the jobs: their result files, and for SLURM their states, with one `sacct` call for all of them
  every `state_check_s` (submitit's own schedule slows down to one call per 10 minutes): only the state
  tells that a job without a result file has ended;
- logs "k/N runs done, ETA" as the jobs' records appear in the sweep's ledger (normbench.launch.tally);
- collects each job's outcome once it has ended (a job requeued by SLURM, by submitit on USR2 or by
  `scontrol requeue` is pending again, not ended), and returns when all have: a job that left no result
  becomes a `failed` run, a ledger record whose error starts with the job's final state (e.g.
  `CANCELLED by 1000`).

Every job's outcome reaches Hydra as a completed JobReturn whose value is the run's status ("completed",
"failed", ...), which is how normbench's task reports a failed run in a sweep too: Hydra's BasicSweeper
re-raises the error of a JobReturn with status FAILED, which would end the sweep before its tally.

Torch-free: Hydra imports the plugin, and with it this module, while it starts.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf

from normbench.launch import tally
from normbench.rundir.contract import FAILED

log = logging.getLogger("normbench")


class LedgerWatch:
    """The submitting process's view of the ledger: logs a progress line for each record that appears."""

    def __init__(self, ledger: Path | None) -> None:
        self.ledger = ledger
        self.seen: set[str] = set()
        self.records: list[dict] = []

    def poll(self) -> None:
        if self.ledger is None:
            return
        for path in sorted(self.ledger.glob("job-*.json")):  # only new records are read: a listing per poll
            if path.name in self.seen:
                continue
            record = tally.read_record(self.ledger, int(path.stem.removeprefix("job-")))
            if record is None:
                continue
            self.seen.add(path.name)
            self.records.append(record)
            tally.log_progress(self.records, record)


def _error_line(error: BaseException) -> str:
    """The last line of the job's traceback in a submitit FailedJobError (whose message is all of it)."""
    rule = "-" * 22  # submitit puts the traceback between two rules of dashes
    lines = [line.strip() for line in str(error).splitlines()]
    if lines.count(rule) >= 2:
        start = lines.index(rule)
        trace = [line for line in lines[start + 1:lines.index(rule, start + 1)] if line]
        if trace:
            return trace[-1]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _refresh_states(jobs: list) -> None:
    """For SLURM, one `sacct` call now for every job submitit still watches (its InfoWatcher is shared by
    all jobs); the following `done()` calls read its answer. Local jobs ask their processes anyway."""
    for job in jobs:
        if not job.paths.result_pickle.exists():
            try:
                job.get_info(mode="force")
            except Exception:  # sacct failed: submitit has logged it, the states stay as they were
                pass
            return


def _state(job) -> str:
    try:
        return str(job.state)
    except Exception as error:  # a failing sacct: submitit logs it; the reason says the state is unknown
        return f"UNKNOWN ({type(error).__name__})"


def _log_path(job) -> str:
    for path in (job.paths.stderr, job.paths.stdout):
        if path.exists():
            return str(path)
    return str(job.paths.folder)


@dataclass
class JobOutcome:
    """One job's JobReturn for Hydra, and the ledger record to write for it (None: the job wrote its own)."""

    job_return: JobReturn
    record: dict | None = None


def collect(job, job_num: int, overrides: Sequence[str], recorded: dict | None,
            run_name: Callable[[Sequence[str]], str]) -> JobOutcome:
    """The outcome of an ended job. `recorded` is the job's own ledger record, if it wrote one."""

    def failed(error: str) -> JobOutcome:
        if recorded is not None:  # the job recorded its outcome, then died before its result file: trust the record
            return JobOutcome(_status_return(overrides, recorded["status"]))
        record = tally.job_record(job_num, run_name(overrides), FAILED, error)
        return JobOutcome(_status_return(overrides, FAILED), record)

    if not job.paths.result_pickle.exists():
        return failed(f"{_state(job)}: job {job.job_id} ended without a result (log: {_log_path(job)})")
    try:
        job_return = job.results()[0]
    except Exception as error:  # submitit's FailedJobError: raised in the job outside the task; or an unreadable result
        return failed(f"{_error_line(error)} (job {job.job_id}, state {_state(job)}, log: {_log_path(job)})")
    if not isinstance(job_return, JobReturn):
        return failed(f"job {job.job_id} returned {type(job_return).__name__}, not a JobReturn")
    if job_return.status != JobStatus.COMPLETED:
        # An exception escaped the task; Hydra's run_job caught it, on_job_end recorded it as failed.
        error = job_return._return_value  # `return_value` would re-raise it
        outcome = failed(f"{type(error).__name__}: {error}")
        outcome.job_return.cfg, outcome.job_return.working_dir = job_return.cfg, job_return.working_dir
        return outcome
    return JobOutcome(job_return)


def _status_return(overrides: Sequence[str], status: str) -> JobReturn:
    return JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED, _return_value=status)


def wait_for_jobs(jobs: list, job_nums: list[int], job_overrides: Sequence[Sequence[str]], ledger: Path | None,
                  run_name: Callable[[Sequence[str]], str], poll_s: float, state_check_s: float,
                  grace_s: float) -> list[JobReturn]:
    """Wait until every job has ended, logging progress from the ledger; collect each job's outcome as it ends.

    A job that has ended without a result file is given `grace_s` for the file to appear (a shared file
    system can show it late) before it counts as ended without a result."""
    watch = LedgerWatch(ledger)
    outcomes: dict[int, JobReturn] = {}
    ended_without_result: dict[int, float] = {}  # job index -> when it was first seen so
    last_check = float("-inf")

    def finish(index: int) -> None:
        job_num = job_nums[index]
        recorded = tally.read_record(ledger, job_num) if ledger is not None else None
        outcome = collect(jobs[index], job_num, job_overrides[index], recorded, run_name)
        if outcome.record is not None:
            log.error("%s: failed: %s", outcome.record["run"], outcome.record["error"])
            if ledger is not None:
                tally.write_record(ledger, outcome.record)
        outcomes[index] = outcome.job_return

    try:
        while len(outcomes) < len(jobs):
            now = time.monotonic()
            pending = [index for index in range(len(jobs)) if index not in outcomes]
            if now - last_check >= state_check_s:
                last_check = now
                _refresh_states([jobs[index] for index in pending])
            for index in pending:
                job = jobs[index]
                if not job.done():
                    ended_without_result.pop(index, None)  # e.g. requeued: pending again
                elif job.paths.result_pickle.exists() or now - ended_without_result.setdefault(index, now) >= grace_s:
                    finish(index)
            watch.poll()
            if len(outcomes) < len(jobs):
                time.sleep(poll_s)
    except KeyboardInterrupt:
        running = [str(job.job_id) for index, job in enumerate(jobs) if index not in outcomes]
        log.error("interrupted: %d submitted jobs have not ended (%s) and go on without this process: cancel them "
                  "(SLURM: scancel), or wait until they have ended before running the sweep again",
                  len(running), ", ".join(running))
        raise
    return [outcomes[index] for index in range(len(jobs))]


class WaitingLauncher:
    """Mixin for hydra-submitit-launcher's SlurmLauncher and LocalLauncher (see the module's docstring).

    `launch` is the plugin's own (hydra-submitit-launcher 1.2), up to the submission; the collection is
    `wait_for_jobs`. Class attributes, per executor: seconds between polls of the ledger and the result
    files, between state refreshes (`sacct` on SLURM), and granted to a late result file."""

    poll_s = 2.0
    state_check_s = 2.0
    grace_s = 2.0

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None
        assert len(job_overrides) > 0
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **self._init_params())
        executor.update_parameters(**self._executor_params())
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {self.config.hydra.sweep.dir}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))

        job_params: list[Any] = []
        job_nums = []
        for idx, overrides in enumerate(job_overrides):
            idx = initial_job_idx + idx
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_nums.append(idx)
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))

        jobs = executor.map_array(self, *zip(*job_params))
        log.info("submitted %d jobs (%s); waiting for all of them", len(jobs), _job_ids(jobs))
        ledger = os.environ.get(tally.LEDGER_ENV)
        return wait_for_jobs(jobs, job_nums, job_overrides, Path(ledger) if ledger else None, self._run_name,
                             poll_s=self.poll_s, state_check_s=self.state_check_s, grace_s=self.grace_s)

    def _init_params(self) -> dict:
        params = {"folder": self.params["submitit_folder"]}
        if "max_num_timeout" in self.params:
            params[f"{self._EXECUTOR}_max_num_timeout"] = self.params["max_num_timeout"]
        return params

    def _executor_params(self) -> dict:
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

        base = set(OmegaConf.structured(BaseQueueConf).keys())
        return {key if key in base else f"{self._EXECUTOR}_{key}": value for key, value in self.params.items()
                if key not in ("submitit_folder", "max_num_timeout")}

    def _run_name(self, overrides: Sequence[str]) -> str:
        """The run directory's name for a job's overrides, as the job itself would have made it."""
        try:
            config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            return str(config.hydra.sweep.subdir)
        except Exception:  # the tally still names the job by its overrides
            return " ".join(filter_overrides(overrides)) or "(no overrides)"


def _job_ids(jobs: list) -> str:
    ids = [str(job.job_id) for job in jobs]
    arrays = sorted({job_id.split("_")[0] for job_id in ids})
    if len(ids) > 1 and len(arrays) == 1 and all("_" in job_id for job_id in ids):
        return f"array {arrays[0]}, tasks {ids[0].split('_', 1)[1]}..{ids[-1].split('_', 1)[1]}"
    return ", ".join(ids) if len(ids) <= 8 else f"{', '.join(ids[:8])}, ..."
