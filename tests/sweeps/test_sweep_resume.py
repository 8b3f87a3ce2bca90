"""Resumable sweeps: finished runs are skipped, a killed sweep finishes only what is missing, and a run
resumed from its checkpoint ends exactly where an uninterrupted one does."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from normbench.engine.run import run_experiment
from normbench.engine.trainer import Trainer

from .conftest import BASE, REPO, metrics, run_dirs, summaries, tally_counts, tiny_sweep, write_tiny_study


def _files(study, name):
    return {run.name: (run / name).read_bytes() for run in run_dirs(study) if (run / name).is_file()}


def test_finished_runs_are_skipped_unless_forced(tiny_copy):
    results, conf = tiny_copy
    study = results / "tiny"
    kept_summaries, kept_metrics = _files(study, "summary.json"), _files(study, "metrics.csv")
    assert len(kept_summaries) == 3

    again = tiny_sweep(results, conf)
    assert again.returncode == 0, again.stderr
    assert tally_counts(again.stdout) == {"completed": 0, "diverged": 0, "failed": 0, "interrupted": 0, "skipped": 3, "invalid": 0}
    assert again.stderr.count("skipping ") == 3
    assert _files(study, "summary.json") == kept_summaries and _files(study, "metrics.csv") == kept_metrics

    forced = tiny_sweep(results, conf, "seed=0", "force=true")  # the command line narrows the study's seeds
    assert forced.returncode == 0, forced.stderr
    assert tally_counts(forced.stdout)["completed"] == 1
    now = _files(study, "summary.json")
    changed = [name for name in now if now[name] != kept_summaries[name]]
    assert len(changed) == 1 and changed[0].endswith("_s0")
    assert len(run_dirs(study)) == 3


def _interrupted_runs(study):
    """Runs started but not finished, with a checkpoint already written."""
    return [run.name for run in run_dirs(study) if (run / "checkpoint.pt").is_file() and not (run / "summary.json").exists()]


def _wait_until_mid_run(study, finished, process, timeout=120):
    """Until `finished` runs are done and the next one has checkpointed (so a kill lands mid-run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(study.glob("*/summary.json"))) >= finished and _interrupted_runs(study):
            return
        time.sleep(0.01)
    raise AssertionError(f"the sweep ended or stalled before run {finished + 1} checkpointed")


def test_a_killed_sweep_resumes_with_only_the_missing_runs(tmp_path):
    conf = write_tiny_study(tmp_path / "conf", max_steps=1000)
    results, study = tmp_path / "results", tmp_path / "results" / "tiny"
    args = ("seed=0,1,2,3", "trainer.checkpoint_interval=100")
    with open(tmp_path / "first.log", "w") as log:
        first = tiny_sweep(results, conf, *args, stdout=log, stderr=log, start_new_session=True)
        _wait_until_mid_run(study, 2, first)
        os.killpg(first.pid, signal.SIGKILL)  # the whole sweep, mid-way through its third run
        first.wait()
    finished = summaries(study)
    assert 2 <= len(finished) < 4
    assert all(summary["status"] == "completed" for summary in finished.values())
    kept_summaries = _files(study, "summary.json")
    kept_metrics = {name: data for name, data in _files(study, "metrics.csv").items() if name in finished}
    interrupted = _interrupted_runs(study)
    assert len(interrupted) == 1

    second = tiny_sweep(results, conf, *args)
    assert second.returncode == 0, second.stderr
    counts = tally_counts(second.stdout)
    assert counts["skipped"] == len(finished) and counts["completed"] == 4 - len(finished)
    assert f"{interrupted[0]}: resuming from step" in second.stderr
    # nothing lost, nothing duplicated: four runs, the finished ones untouched, every step logged once
    assert len(run_dirs(study)) == 4
    assert {name: _files(study, "summary.json")[name] for name in finished} == kept_summaries
    assert {name: _files(study, "metrics.csv")[name] for name in finished} == kept_metrics
    for run in run_dirs(study):
        assert summaries(study)[run.name]["status"] == "completed"
        train_loss = metrics(run).query("split == 'train' and metric == 'loss'")
        assert train_loss.step.tolist() == list(range(1, 1001))
        # a resumed run adds an event file whose purge_step hides the replayed steps; no other run has two
        assert len(list(run.glob("events.out.tfevents.*"))) == (2 if run.name == interrupted[0] else 1)
        assert not (run / "checkpoint.pt").exists()


def _untimed(frame: pd.DataFrame) -> pd.DataFrame:
    """Every logged value except throughput, which is wall-clock time and differs between any two runs."""
    return frame[frame.metric != "samples_per_s"].reset_index(drop=True)


class _Killed(BaseException):
    """Stands for kill -9: no except clause of normbench's catches it."""


def test_a_run_resumed_from_its_checkpoint_matches_an_uninterrupted_one(compose_cfg, tmp_path, monkeypatch):
    cfg = compose_cfg(*BASE, "model=cnn", "data.shape=[1,128]", "norm=batch", "data.num_train=400", "batch_size=32",
                      "trainer.max_steps=40", "trainer.eval_interval=5", "trainer.log_interval=5",
                      "trainer.checkpoint_interval=10", "progress=false",
                      "deterministic=true")  # bit for bit on CUDA too (tests/conftest.py sets CUBLAS_WORKSPACE_CONFIG)
    whole = run_experiment(cfg, tmp_path / "whole")

    evaluate = Trainer.evaluate

    def evaluate_then_die(trainer):
        evaluate(trainer)
        if trainer.step == 25:  # five steps past the checkpoint at 20, with those steps' rows already flushed
            raise _Killed  # what a kill looks like to the run: no handler records it (Ctrl-C would: interrupted)

    monkeypatch.setattr(Trainer, "evaluate", evaluate_then_die)
    cut = tmp_path / "cut"
    with pytest.raises(_Killed):
        run_experiment(cfg, cut)
    assert not (cut / "summary.json").exists() and (cut / "checkpoint.pt").is_file()
    assert metrics(cut).step.max() == 25
    monkeypatch.undo()

    resumed = run_experiment(cfg, cut)
    pd.testing.assert_frame_equal(_untimed(metrics(cut)), _untimed(metrics(tmp_path / "whole")))
    for key in ("status", "steps", "final_train_loss", "final_train_acc", "final_test_loss", "final_test_acc"):
        assert resumed[key] == whole[key], key
    assert resumed["resumed_from_step"] == 20 and whole["resumed_from_step"] is None
    assert not (cut / "checkpoint.pt").exists()


KILLED_AFTER_CHECKPOINT = """
import os, signal, sys
from pathlib import Path

from hydra import compose, initialize_config_dir

import normbench.cli.train  # noqa: F401  (the schema and resolvers)
import normbench.engine.run as run
from normbench.config.paths import config_dir

with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
    cfg = compose("config", overrides=sys.argv[2:])
save = run.save_checkpoint


def save_then_die(run_dir, config_hash, step, trainer):
    save(run_dir, config_hash, step, trainer)
    if step == int(os.environ["KILL_AT"]):
        os.kill(os.getpid(), signal.SIGKILL)  # what scancel or scontrol requeue does after KillWait, or the OOM killer


run.save_checkpoint = save_then_die
run.run_experiment(cfg, Path(sys.argv[1]))
"""


def test_a_run_killed_right_after_a_checkpoint_between_evaluations_loses_no_steps(compose_cfg, tmp_path):
    # Found by scripts/slurm_smoke.sh (scancel lost steps 1001-1100): the trainer now syncs the metrics log
    # before every checkpoint (docs/reliability.md).
    overrides = [*BASE, "data.num_train=200", "batch_size=50", "trainer.max_steps=100", "trainer.eval_interval=50",
                 "trainer.log_interval=10", "trainer.checkpoint_interval=20", "progress=false", "num_threads=1"]
    run_dir = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_CHECKPOINT, str(run_dir), *overrides],
                            env={**os.environ, "PYTHONPATH": str(REPO), "KILL_AT": "60"}, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # killed at step 60, between the evaluations at 50 and 100
    resumed = run_experiment(compose_cfg(*overrides), run_dir)
    assert resumed["resumed_from_step"] == 60
    train_loss = metrics(run_dir).query("split == 'train' and metric == 'loss'")
    assert train_loss.step.tolist() == list(range(1, 101))
