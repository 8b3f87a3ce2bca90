"""One writer per run directory: a run another process holds is skipped with one line, the lock dies with its
holder, and two identical sweeps started together train each run once."""

import fcntl
import os
import signal
import socket
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import normbench.rundir.lock as lock_module
from normbench.rundir.contract import EVENTS_PREFIX, LOCK
from normbench.rundir.lock import RunBusy, RunLock
from tests.sweeps.conftest import summaries, tally_counts, tiny_sweep, write_tiny_study

from .conftest import REPO, metrics, snapshot, steps_of

RUN = "mlp_batch_synthetic_bs50_adam-lr0.01_s{}"  # the tiny study's run names, by seed


def _hold(run_dir):
    """Take the run's lock as another normbench process would: flock on the lock file, pid and host in it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK, "w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write(f"{os.getpid()} {socket.gethostname()}\n")
    handle.flush()
    return handle


def test_a_run_another_process_is_training_is_skipped_in_one_line_and_left_alone(tmp_path):
    conf = write_tiny_study(tmp_path / "conf")
    results = tmp_path / "results"
    held = results / "tiny" / RUN.format(1)
    with _hold(held):
        (held / "metrics.csv").write_text("step,split,metric,value\n1,train,loss,2.3\n")  # its run, half written
        before = snapshot(held)
        out = tiny_sweep(results, conf, "seed=0,1")
        assert snapshot(held) == before  # nothing written, nothing removed, not even the lock file
    assert out.returncode == 0, out.stderr
    assert tally_counts(out.stdout) == {"completed": 1, "diverged": 0, "failed": 0, "interrupted": 0, "skipped": 1, "invalid": 0}
    busy = [line for line in out.stderr.splitlines() if "being trained by" in line]
    assert len(busy) == 1 and busy[0].endswith(f"skipping {RUN.format(1)}: being trained by pid {os.getpid()} "
                                               f"(that process finishes it)"), out.stderr
    assert "Traceback" not in out.stderr
    assert summaries(results / "tiny")[RUN.format(0)]["status"] == "completed"
    assert not (results / "tiny" / RUN.format(0) / LOCK).exists()  # a run's lock file goes with its writer


HOLD_AND_WAIT = """
import sys, time
from normbench.rundir.lock import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_AND_WAIT, str(run_dir)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunBusy) as busy:
            RunLock(run_dir).acquire()
        assert busy.value.pid == holder.pid and busy.value.holder == f"being trained by pid {holder.pid}"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run_dir / LOCK).exists()  # left behind by the kill, and no obstacle: the OS released its flock
    with RunLock(run_dir) as lock:
        assert (run_dir / LOCK).read_text().split() == [str(os.getpid()), socket.gethostname()]
        assert lock.path == run_dir / LOCK
    assert not (run_dir / LOCK).exists()


def test_a_lock_file_removed_while_we_waited_for_it_is_not_trusted(tmp_path, monkeypatch):
    """The holder removes the lock file as it lets go; a process whose flock succeeded on that removed file
    must not think it holds the run while a third process locks the new file."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    flock, calls = fcntl.flock, []

    def flock_after_the_holder_left(fd, operation):
        calls.append(fd)
        if len(calls) == 1:  # the holder unlinks the file we opened, and a newcomer creates and locks a new one
            os.unlink(run_dir / LOCK)
            newcomer = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT)
            os.write(newcomer, f"{os.getpid() + 1} {socket.gethostname()}\n".encode())
            flock(newcomer, fcntl.LOCK_EX | fcntl.LOCK_NB)
            flock_after_the_holder_left.newcomer = newcomer
        return flock(fd, operation)

    monkeypatch.setattr(lock_module.fcntl, "flock", flock_after_the_holder_left)
    with pytest.raises(RunBusy) as busy:
        RunLock(run_dir).acquire()
    assert busy.value.pid == os.getpid() + 1  # the second attempt, on the current file, met the newcomer
    os.close(flock_after_the_holder_left.newcomer)


def test_two_identical_sweeps_started_together_train_each_run_once(tmp_path):
    conf = write_tiny_study(tmp_path / "conf", max_steps=60)
    results = tmp_path / "results"
    seeds = "seed=0,1,2,3"
    logs = [open(tmp_path / f"sweep{i}.log", "w+") for i in (1, 2)]
    sweeps = [tiny_sweep(results, conf, seeds, stdout=log, stderr=subprocess.STDOUT, text=True) for log in logs]
    for sweep in sweeps:
        assert sweep.wait(timeout=240) == 0
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    counts = [tally_counts(output) for output in outputs]
    assert sum(count["completed"] for count in counts) == 4  # each run trained by one of them
    assert sum(count["skipped"] for count in counts) == 4  # and skipped by the other
    assert all(count["failed"] == count["invalid"] == 0 for count in counts)
    assert "being trained by pid" in "".join(outputs)  # they did meet on a run
    done = summaries(results / "tiny")
    assert sorted(done) == [RUN.format(seed) for seed in range(4)]
    for name, summary in done.items():
        run = results / "tiny" / name
        assert summary["status"] == "completed" and summary["resumed_from_step"] is None
        frame = metrics(run)
        assert steps_of(frame, "train", "loss") == list(range(1, 61))
        assert not frame.duplicated(["step", "split", "metric"]).any()
        (events,) = run.glob(f"{EVENTS_PREFIX}*")  # one event file: one writer
        accumulator = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload()
        assert [event.step for event in accumulator.Scalars("test/acc")] == [0, 10, 20, 30, 40, 50, 60]
        assert not (run / LOCK).exists()


def test_the_lock_leaves_no_directory_it_made_for_a_run_that_wrote_nothing(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "other_run").mkdir()  # a sibling: results/ stays, it was there before
    with RunLock(tmp_path / "results" / "study" / "run"):
        assert (tmp_path / "results" / "study" / "run" / LOCK).is_file()
    assert sorted(path.name for path in (tmp_path / "results").iterdir()) == ["other_run"]
    with RunLock(tmp_path / "fresh" / "study" / "run") as lock:
        (lock.run_dir / "metrics.csv").write_text("step,split,metric,value\n")  # the run wrote: all of it stays
    assert (tmp_path / "fresh" / "study" / "run" / "metrics.csv").is_file()
