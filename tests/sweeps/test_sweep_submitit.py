"""launcher=slurm and launcher=submitit_local through normbench's launcher plugin: the sweep waits for every
job, a job that ends without a result is a failed run in the tally (not an UncompletedJobError that ends the
sweep), and the progress lines reach the submitting terminal. SLURM itself is exercised by
scripts/slurm_smoke.sh; here submitit's local executor runs real jobs, and fake jobs play SLURM's states."""

import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import OmegaConf
from submitit.core.utils import FailedJobError

from normbench.launch import tally
from normbench.launch.job_resources import launcher_kind
from normbench.launch.submitit_sweep import wait_for_jobs
from normbench.rundir.identity import config_hash

from .conftest import metrics, run_dirs, summaries, tally_counts, tiny_sweep, write_tiny_study

# ---------------------------------------------------------------------------------------------------------
# wait_for_jobs with fake jobs: SLURM's states without SLURM


class FakePaths:
    def __init__(self, folder: Path, job_id: str) -> None:
        self.folder = folder
        self.result_pickle = folder / f"{job_id}_result.pkl"
        self.stderr = folder / f"{job_id}_log.err"
        self.stdout = folder / f"{job_id}_log.out"


class FakeJob:
    """A submitit job as wait_for_jobs sees it. `script`: one (state, result) per poll, the last repeated;
    state RUNNING/PENDING = not ended; result: None (no result file yet), a JobReturn, or an exception that
    `results()` raises. `on_poll(n)` may act when the job is polled the n-th time (e.g. write a ledger record)."""

    def __init__(self, folder: Path, job_id: str, script, on_poll=None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.job_id, self.paths, self.script, self.on_poll = job_id, FakePaths(folder, job_id), list(script), on_poll
        self.polls, self.forced = 0, 0
        self.state, self._result = "PENDING", None

    def done(self, force_check: bool = False) -> bool:
        self.polls += 1
        self.state, self._result = self.script[min(self.polls, len(self.script)) - 1]
        if self.on_poll:
            self.on_poll(self.polls)
        if self._result is not None and not self.paths.result_pickle.exists():
            self.paths.result_pickle.write_bytes(b"fake")
        return self.state not in ("RUNNING", "PENDING", "REQUEUED")

    def get_info(self, mode: str = "standard") -> dict:
        self.forced += mode == "force"
        return {"State": self.state}

    def results(self):
        if isinstance(self._result, BaseException):
            raise self._result
        return [self._result]


def _completed(value="completed") -> JobReturn:
    return JobReturn(overrides=["seed=0"], status=JobStatus.COMPLETED, _return_value=value)


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    path = tmp_path / ".sweeps" / "sweep"
    path.mkdir(parents=True)
    monkeypatch.setenv(tally.TOTAL_ENV, "3")
    monkeypatch.setenv(tally.STARTED_ENV, repr(time.time()))
    return path


def _wait(jobs, ledger, grace_s=0.0):
    overrides = [[f"seed={i}"] for i in range(len(jobs))]
    return wait_for_jobs(jobs, list(range(len(jobs))), overrides, ledger, lambda o: f"run-{o[0]}", poll_s=0.0,
                         state_check_s=0.0, grace_s=grace_s)


def test_a_cancelled_job_is_a_failed_run_and_the_others_are_waited_for(tmp_path, ledger, caplog):
    def records_itself(job, status):  # what on_job_end does in the job, before its result file appears
        return lambda poll: poll == 2 and tally.write_record(ledger, tally.job_record(job, f"run-seed={job}", status, None))

    first = FakeJob(tmp_path / "0", "7_0", [("RUNNING", None), ("COMPLETED", _completed())], records_itself(0, "completed"))
    cancelled = FakeJob(tmp_path / "1", "7_1", [("RUNNING", None), ("CANCELLED by 1000", None)])
    last = FakeJob(tmp_path / "2", "7_2", [("PENDING", None)] * 5 + [("COMPLETED", _completed())], records_itself(2, "completed"))
    with caplog.at_level(logging.INFO, logger="normbench"):
        returns = _wait([first, cancelled, last], ledger)

    assert last.polls == 6  # waited for the last job, though another had ended without a result long before
    # every outcome reaches Hydra as a completed job whose value is the run's status: BasicSweeper re-raises
    # the error of a FAILED JobReturn, which would end the sweep before its tally
    assert [r.status for r in returns] == [JobStatus.COMPLETED] * 3
    assert [r.return_value for r in returns] == ["completed", "failed", "completed"]
    record = tally.read_record(ledger, 1)
    assert record["status"] == "failed" and record["run"] == "run-seed=1"
    assert record["error"].startswith("CANCELLED by 1000: job 7_1 ended without a result")
    # the submitting process logs the progress lines (a submitit job logs into its own file)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sweep: ")]
    assert [line.split(" runs done")[0] for line in lines] == ["sweep: 1/3", "sweep: 2/3", "sweep: 3/3"]
    assert "run-seed=1 failed" in lines[1]
    assert first.forced + cancelled.forced + last.forced > 0  # states were refreshed (one sacct for all)


def test_a_requeued_job_is_waited_for_and_a_late_result_file_gets_its_grace(tmp_path, ledger):
    # Ended without a result, then pending again (requeued), then ended, its result file appearing late.
    requeued = FakeJob(tmp_path / "0", "8_0", [("RUNNING", None), ("NODE_FAIL", None), ("REQUEUED", None),
                                               ("RUNNING", None), ("COMPLETED", None), ("COMPLETED", None),
                                               ("COMPLETED", _completed())])
    (returned,) = wait_for_jobs([requeued], [0], [["seed=0"]], ledger, str, poll_s=0.05, state_check_s=0.0,
                                grace_s=60.0)
    assert returned.return_value == "completed" and requeued.polls == 7
    assert tally.read_record(ledger, 0) is None  # nothing written for it: the job's own record is the record


def test_errors_outside_the_task_and_failed_job_returns_are_failed_runs(tmp_path, ledger):
    trace = ("Job (task=0) failed during processing with trace:\n----------------------\nTraceback (most recent "
             "call last):\n  File \"x.py\", line 1\nMemoryError: out of memory\n----------------------\nYou can check")
    raised = FakeJob(tmp_path / "0", "9_0", [("FAILED", FailedJobError(trace))])
    escaped = FakeJob(tmp_path / "1", "9_1",
                      [("COMPLETED", JobReturn(overrides=["seed=1"], status=JobStatus.FAILED,
                                               _return_value=RuntimeError("escaped the task")))])
    tally.write_record(ledger, tally.job_record(1, "run-seed=1", "failed", "RuntimeError: escaped the task"))
    returns = _wait([raised, escaped], ledger)
    assert [r.status for r in returns] == [JobStatus.COMPLETED] * 2  # no exception re-raised by the sweeper
    assert [r.return_value for r in returns] == ["failed", "failed"]
    assert tally.read_record(ledger, 0)["error"].startswith("MemoryError: out of memory (job 9_0")
    assert tally.read_record(ledger, 1)["error"] == "RuntimeError: escaped the task"  # the job's own record stays


def test_a_job_that_recorded_its_run_then_died_keeps_its_record(tmp_path, ledger):
    tally.write_record(ledger, tally.job_record(0, "run-seed=0", "completed", None))
    killed = FakeJob(tmp_path / "0", "10_0", [("CANCELLED by 0", None)])  # e.g. killed while writing its result
    (returned,) = _wait([killed], ledger)
    assert returned.return_value == "completed" and tally.read_record(ledger, 0)["status"] == "completed"


def test_a_requeued_job_that_finds_its_run_finished_stays_completed(tmp_path, monkeypatch):
    """SLURM requeues a job whose run had finished (scontrol requeue, a late preemption): the job skips the
    run, and its record must still say the run trained in this sweep."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    monkeypatch.setenv(tally.LEDGER_ENV, str(ledger))
    config = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN, "job": {"num": 4},
                                         "runtime": {"output_dir": str(tmp_path / "run4")}}})
    callback = tally.SweepTally()
    for status in ("completed", "skipped"):
        callback.on_job_start(config)
        callback.on_job_end(config, _completed(status))
    assert tally.read_record(ledger, 4)["status"] == "completed"
    callback.on_job_start(config)
    callback.on_job_end(config, _completed("failed"))  # a later genuine outcome does replace it
    assert tally.read_record(ledger, 4)["status"] == "failed"


# ---------------------------------------------------------------------------------------------------------
# The presets select normbench's plugin, and Hydra can build it


@pytest.mark.parametrize("preset, kind, base", [("slurm", "submitit_slurm", "SlurmLauncher"),
                                                 ("submitit_local", "submitit_local", "LocalLauncher")])
def test_the_presets_build_normbenchs_launcher(compose_cfg, preset, kind, base):
    from hydra.core.plugins import Plugins

    cfg = compose_cfg("experiment=default", f"launcher={preset}", hydra=True)
    launcher = Plugins.instance()._instantiate(cfg.hydra.launcher)  # what Hydra does, with its plugin checks
    # (by name: Hydra's plugin scan executes plugin modules again, so their classes are not one object)
    bases = [f"{cls.__module__}.{cls.__name__}" for cls in type(launcher).__mro__]
    assert f"hydra_plugins.hydra_submitit_launcher.submitit_launcher.{base}" in bases
    assert type(launcher).__name__ == f"Normbench{base}" and launcher_kind(cfg.hydra.launcher) == kind
    assert type(pickle.loads(pickle.dumps(launcher))) is type(launcher)  # submitit pickles it into every job


def test_slurm_preset_names_the_signal_submitit_sends():
    from submitit.slurm.slurm import SlurmJobEnvironment

    from normbench.config.paths import config_dir

    text = (config_dir() / "launcher" / "slurm.yaml").read_text()
    assert SlurmJobEnvironment.USR_SIG == "USR2" and "USR2" in text and "USR1" not in text


def test_experiment_default_is_the_default_configuration(compose_cfg):
    plain, named = compose_cfg("launcher=slurm", hydra=True), compose_cfg("experiment=default", "launcher=slurm", hydra=True)
    assert named.experiment == plain.experiment == "default"
    assert config_hash(named) == config_hash(plain)
    assert OmegaConf.to_container(named.hydra.launcher) == OmegaConf.to_container(plain.hydra.launcher)


# ---------------------------------------------------------------------------------------------------------
# A real sweep through submitit's local executor, one of whose jobs is killed


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(stat.parent.name))
    return kids


def _mid_run_job(study: Path, process, timeout=120) -> int:
    """The id of a submitit job (its controller's pid) once both runs have checkpointed and none has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        checkpoints = list(study.glob("*/checkpoint.pt"))
        jobs = sorted(int(p.name) for p in (study / ".submitit").glob("[0-9]*") if p.is_dir())
        if len(checkpoints) == 2 and len(jobs) == 2 and not list(study.glob("*/summary.json")):
            return jobs[0]
        time.sleep(0.05)
    raise AssertionError("the sweep ended or stalled before both runs checkpointed")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the job's process in /proc")
def test_a_killed_submitit_job_is_a_failed_run_and_the_sweep_still_tallies(tmp_path):
    steps = 1000  # long enough to kill a run between its first checkpoint and its end
    conf = write_tiny_study(tmp_path / "conf", max_steps=steps)
    results, study = tmp_path / "results", tmp_path / "results" / "tiny"
    args = ("seed=0,1", "launcher=submitit_local", "trainer.checkpoint_interval=50", "trainer.eval_interval=50")
    out_path, err_path = tmp_path / "out.log", tmp_path / "err.log"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        sweep = tiny_sweep(results, conf, *args, stdout=out, stderr=err)
        controller = _mid_run_job(study, sweep)
        for task in _children(controller):  # the job's python process: killed, it leaves no result
            os.kill(task, signal.SIGKILL)
        sweep.wait(timeout=240)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert "UncompletedJobError" not in stdout + stderr
    assert sweep.returncode == 1, stderr
    assert tally_counts(stdout) == {"completed": 1, "diverged": 0, "failed": 1, "interrupted": 0, "skipped": 0, "invalid": 0}
    (killed,) = [run for run in run_dirs(study) if not (run / "summary.json").exists()]
    assert f"failed: {killed.name}: " in stdout and f"job {controller} ended without a result" in stdout
    assert "sweep: 2/2 runs done" in stdout + stderr  # on the submitting terminal (Hydra's own log goes to stdout)
    assert summaries(study)  # the other job was waited for: it finished after the kill
    assert all(s["status"] == "completed" for s in summaries(study).values())

    again = tiny_sweep(results, conf, *args)  # after the sweep: the killed run resumes, the other is skipped
    assert again.returncode == 0, again.stderr
    assert tally_counts(again.stdout) == {"completed": 1, "diverged": 0, "failed": 0, "interrupted": 0, "skipped": 1, "invalid": 0}
    assert summaries(study)[killed.name]["resumed_from_step"] is not None
    for run in run_dirs(study):
        train_loss = metrics(run).query("split == 'train' and metric == 'loss'")
        assert train_loss.step.tolist() == list(range(1, steps + 1))


# ---------------------------------------------------------------------------------------------------------
# A launcher without -m


def test_a_launcher_without_a_sweep_is_refused(tmp_path):
    out = subprocess.run([sys.executable, "-m", "normbench.cli.main", "train", "launcher=slurm", "data=synthetic",
                          f"results_dir={tmp_path}"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines == ["normbench: error: launcher=slurm needs -m: a launcher runs the jobs of a sweep (normbench train "
                     "-m launcher=slurm ...); without -m Hydra would ignore it and train the one run here, in this "
                     "process"]
    assert not any(tmp_path.iterdir())  # nothing trained here
