"""Durable metrics: every checkpoint finds its rows and events on disk, and a resumed run logs each step once."""

import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import normbench.engine.run as engine_run
from normbench.engine.run import run_experiment
from normbench.engine.trainer import Trainer
from normbench.rundir.contract import CHECKPOINT, EVENTS_PREFIX, METRICS, METRICS_HEADER
from normbench.rundir.metrics_log import rows_through, truncate_to_step

from .conftest import REPO, TINY, metrics, steps_of

# Checkpoints every 5 steps, evaluations every 10: half the checkpoints fall between two evaluations, where
# rows used to sit in memory only.
CHECKPOINTED = ["trainer.checkpoint_interval=5", "trainer.max_steps=30"]


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name fsynced files")
def test_every_row_and_event_is_on_disk_and_fsynced_before_each_checkpoint(tiny_cfg, tmp_path, monkeypatch):
    cfg = tiny_cfg(*CHECKPOINTED)
    run_dir = tmp_path / "run"
    synced, seen = [], []
    real_fsync, real_save = os.fsync, engine_run.save_checkpoint

    def recording_fsync(fd):
        synced.append(_fd_path(fd))
        return real_fsync(fd)

    def checking_save(directory, config_hash, step, state):
        on_disk = pd.read_csv(directory / METRICS)  # what a kill -9 right now would leave
        events = EventAccumulator(str(directory), size_guidance={"scalars": 0}).Reload()
        names = {os.path.basename(path) for path in synced}
        seen.append((step, steps_of(on_disk, "train", "loss"), steps_of(on_disk, "test", "acc"),
                     [event.step for event in events.Scalars("train/loss")],
                     METRICS in names, any(name.startswith(EVENTS_PREFIX) for name in names)))
        synced.clear()
        return real_save(directory, config_hash, step, state)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(engine_run, "save_checkpoint", checking_save)
    assert run_experiment(cfg, run_dir)["status"] == "completed"
    assert [entry[0] for entry in seen] == [5, 10, 15, 20, 25, 30]
    for step, train_loss, test_acc, event_steps, metrics_synced, events_synced in seen:
        assert train_loss == list(range(1, step + 1)), step
        assert test_acc == list(range(0, step + 1, 10)), step
        assert event_steps == list(range(5, step + 1, 5)), step
        assert metrics_synced and events_synced, step


# A `normbench train` that kills itself with SIGKILL when training reaches a given step: nothing after the last
# checkpoint is flushed by any handler, exactly as with kill -9 from outside.
DIE_AT_STEP = """
import os, signal, sys
from normbench.engine.trainer import Trainer
die_at = int(sys.argv[1])
train_step = Trainer._train_step
def train_step_or_die(self, window, want_grad_norm):
    if self.step == die_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return train_step(self, window, want_grad_norm)
Trainer._train_step = train_step_or_die
from normbench.cli.main import main
main(["train", *sys.argv[2:]])
"""


def _train_dying_at(step: int, *overrides):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", DIE_AT_STEP, str(step), *TINY, *overrides], env=env,
                          capture_output=True, text=True, timeout=180)


def test_a_run_killed_between_evaluations_resumes_with_every_row_and_event_once(tmp_path):
    overrides = [*CHECKPOINTED, "trainer.max_steps=40", f"results_dir={tmp_path}"]
    killed = _train_dying_at(28, *overrides)  # after the checkpoint at 25, eight steps after the eval at 20
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = [path.parent for path in tmp_path.rglob(CHECKPOINT)]
    assert not (run_dir / "summary.json").exists()
    with open(run_dir / METRICS, "a") as handle:
        handle.write("26,train,lo")  # a row cut off mid-write (a kill or a full disk): no newline

    resumed = _train_dying_at(0, *overrides)  # step 0 never comes: an ordinary run
    assert resumed.returncode == 0, resumed.stderr
    assert f"{run_dir.name}: resuming from step 25" in resumed.stderr
    frame = metrics(run_dir)
    assert list(frame.columns) == METRICS_HEADER.split(",")
    assert frame.step.dtype.kind == "i" and set(frame.split) <= {"train", "val", "test", "test_batch_stats", "norm"}
    assert steps_of(frame, "train", "loss") == list(range(1, 41))
    assert steps_of(frame, "test", "loss") == steps_of(frame, "test", "acc") == [0, 10, 20, 30, 40]
    assert not frame.duplicated(["step", "split", "metric"]).any()
    # TensorBoard: two event files, read as one curve with every logged step once (the step-25 point kept).
    assert len(list(run_dir.glob(f"{EVENTS_PREFIX}*"))) == 2
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0}).Reload()
    assert [event.step for event in events.Scalars("train/loss")] == list(range(5, 41, 5))
    assert [event.step for event in events.Scalars("test/acc")] == [0, 10, 20, 30, 40]


def test_resuming_cuts_metrics_csv_back_to_the_checkpoint_step_with_a_partial_last_row(tmp_path):
    path = tmp_path / METRICS
    rows = ["1,train,loss,0.5", "2,train,loss,0.4", "2,test,acc,0.1", "3,train,loss,0.3", "2,norm,x,1.0"]
    path.write_text(METRICS_HEADER + "\n" + "\n".join(rows) + "\n" + "0,test")  # partial row: no newline
    assert rows_through(path, 2) == ["1,train,loss,0.5\n", "2,train,loss,0.4\n", "2,test,acc,0.1\n", "2,norm,x,1.0\n"]
    truncate_to_step(path, 2)
    assert path.read_text() == METRICS_HEADER + "\n1,train,loss,0.5\n2,train,loss,0.4\n2,test,acc,0.1\n2,norm,x,1.0\n"
    with open(path, "a") as handle:  # what the resumed run appends next lands on a line of its own
        handle.write("3,train,loss,0.25\n")
    assert pd.read_csv(path).step.tolist() == [1, 2, 2, 2, 3]


def test_the_cut_is_atomic_a_crash_during_it_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / METRICS
    path.write_text(METRICS_HEADER + "\n1,train,loss,0.5\n2,train,loss,0.4\n3,train,l")
    before = path.read_bytes()

    def crash(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "replace", crash)  # the new file is never put in place
    with pytest.raises(OSError):
        truncate_to_step(path, 1)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [METRICS]  # and no temporary file left behind


def test_a_checkpoint_whose_rows_are_missing_is_not_resumed(tiny_cfg, tmp_path, monkeypatch, caplog):
    cfg = tiny_cfg(*CHECKPOINTED)
    run_dir = tmp_path / "run"
    evaluate = Trainer.evaluate

    def evaluate_then_die(trainer):
        evaluate(trainer)
        if trainer.step == 20:
            raise KeyboardInterrupt  # a kill after the checkpoint at 15 (the eval at 20 comes before its own)

    monkeypatch.setattr(Trainer, "evaluate", evaluate_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, run_dir)
    monkeypatch.undo()
    assert (run_dir / CHECKPOINT).is_file()
    # metrics.csv as normbench 0.1 could leave it: rows between a flush and the checkpoint never written
    frame = metrics(run_dir)
    frame[~frame.step.between(11, 14)].to_csv(run_dir / METRICS, index=False)

    summary = run_experiment(cfg, run_dir)
    assert "not resuming from the checkpoint at step 15" in caplog.text
    assert "does not hold the train loss of steps 1..15 exactly once" in caplog.text
    assert summary["status"] == "completed" and summary["resumed_from_step"] is None
    assert steps_of(metrics(run_dir), "train", "loss") == list(range(1, 31))
    assert len(list(run_dir.glob(f"{EVENTS_PREFIX}*"))) == 1  # started afresh: the old events are gone


def test_a_failed_run_records_the_steps_it_trained(tiny_cfg, tmp_path, monkeypatch):
    cfg = tiny_cfg(*CHECKPOINTED)
    evaluate = Trainer.evaluate

    def evaluate_then_fail(trainer):
        evaluate(trainer)
        if trainer.step == 20:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(Trainer, "evaluate", evaluate_then_fail)
    with pytest.raises(RuntimeError):
        run_experiment(cfg, tmp_path / "run")
    summary = pd.read_json(tmp_path / "run" / "summary.json", typ="series")
    assert summary["status"] == "failed" and summary["steps"] == 20 and summary["max_steps"] == 30
    assert summary["error"] == "RuntimeError: disk on fire"
