"""Ctrl-C and SIGTERM end a run without a traceback, record it as `interrupted` (with the steps it trained and
its checkpoint kept), and the same command resumes it; the report lists it as interrupted, never as a result.
A signal is never lost, wherever it lands (engine/stopping.py): inside a `__del__`, during start-up, or right
after a checkpoint is written."""

import json
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from normbench.report.load import load_runs

from .conftest import metrics, steps_of, train

LONG = ["trainer.max_steps=100000", "trainer.checkpoint_interval=20"]


def _started(results, process, timeout=60):
    """The run directory, once its first checkpoint is on disk (the run is mid-training)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        found = list(results.rglob("checkpoint.pt"))
        if found:
            return found[0].parent
        time.sleep(0.05)
    raise AssertionError(f"the run ended or stalled before its first checkpoint: {process.communicate()}")


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_is_recorded_and_resumed(tmp_path, sent):
    results = tmp_path / "results"
    process = train(*LONG, f"results_dir={results}", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = _started(results, process)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith(f"normbench: interrupted ({sent.name if sent == signal.SIGTERM else 'Ctrl-C'})")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["steps"] >= 20
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "checkpoint.json").is_file()
    assert load_runs([results]).runs.status.tolist() == ["interrupted"]  # listed, not used as a result

    # The same command resumes it from its checkpoint (stopped again at its next one: the budget is long).
    checkpoint_step = json.loads((run_dir / "checkpoint.json").read_text())["step"]
    again = train(*LONG, f"results_dir={results}", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sidecar = json.loads((run_dir / "checkpoint.json").read_text())
        if sidecar["step"] > checkpoint_step:
            break
        time.sleep(0.05)
    again.send_signal(signal.SIGINT)
    _, stderr = again.communicate(timeout=60)
    assert f"resuming from step {checkpoint_step}" in stderr
    resumed = json.loads((run_dir / "summary.json").read_text())
    assert resumed["status"] == "interrupted" and resumed["resumed_from_step"] == checkpoint_step
    losses = steps_of(metrics(run_dir), "train", "loss")
    assert losses[: checkpoint_step] == list(range(1, checkpoint_step + 1))  # nothing lost or doubled before it
    assert len(losses) == len(set(losses))


def _ended_interrupted(process, sent, within=90):
    """The stderr of `process`, once it has ended as an interrupted run does; fails if it goes on past `within` s."""
    try:
        _, stderr = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"{sent.name} was lost: the run was still going {within} s after it") from None
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    name = "SIGTERM" if sent == signal.SIGTERM else "Ctrl-C"
    assert stderr.strip().splitlines()[-1].startswith(f"normbench: interrupted ({name})"), stderr
    return stderr


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_that_lands_inside_a_del_still_stops_the_run(tmp_path, sent):
    """Python drops an exception raised inside `__del__`: a handler raising KeyboardInterrupt there lost the stop,
    and the run trained on. The model's 30th training step signals the process from inside a `__del__`."""
    results = tmp_path / "results"
    process = train("trainer.max_steps=1000000", "trainer.checkpoint_interval=20", "model=factory",
                    "model.target=tests.faults.signal_nets:net", f"+model.kwargs={{signal_name:{sent.name}}}",
                    f"results_dir={results}", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _ended_interrupted(process, sent)
    (summary_path,) = results.rglob("summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "interrupted" and 20 <= summary["steps"] <= 31
    assert json.loads((summary_path.parent / "checkpoint.json").read_text())["step"] == 20


def _wait_for(path_glob, results, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if found := list(results.rglob(path_glob)):
            return found[0]
        time.sleep(0.005)
    raise AssertionError(f"no {path_glob} appeared: {process.communicate()}")


def _signal_at(moment, sent, results):
    """Start a long run, signal it at `moment` (after its lock appeared: start-up; or right after its first
    checkpoint), and check that it ends as an interrupted run, keeping the checkpoint it had when signalled."""
    kind, delay = moment
    process = train(*LONG, f"results_dir={results}", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = _wait_for(".normbench.lock" if kind == "start-up" else "checkpoint.pt", results, process)
        time.sleep(delay)
        checkpoint = lock.parent / "checkpoint.json"
        had_checkpoint = checkpoint.is_file()
        process.send_signal(sent)
        _ended_interrupted(process, sent)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    run_dir = lock.parent
    if (run_dir / "summary.json").is_file():
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "interrupted", summary
    if had_checkpoint:  # the checkpoint it had is kept, complete: the same command resumes from it
        assert json.loads(checkpoint.read_text())["step"] >= 20
        assert (run_dir / "checkpoint.pt").is_file()
        assert json.loads((run_dir / "summary.json").read_text())["steps"] >= 20


def test_a_signal_at_any_moment_ends_the_run_as_interrupted(tmp_path):
    """Twelve moments drawn at random: during start-up (data, model, checkpoint, the first steps) and right after
    the first checkpoint was written, three runs at a time so each is signalled while the CPU is busy."""
    draw = random.Random(18)
    moments = [("start-up", draw.uniform(0, 1.0)) for _ in range(6)]
    moments += [("checkpoint", 0.0), ("checkpoint", 0.0)] + [("checkpoint", draw.uniform(0, 0.05)) for _ in range(4)]
    signals = [signal.SIGTERM, signal.SIGINT] * (len(moments) // 2)
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = [pool.submit(_signal_at, moment, sent, tmp_path / f"results{index}")
                for index, (moment, sent) in enumerate(zip(moments, signals))]
        for index, future in enumerate(done):
            try:
                future.result()
            except AssertionError as error:
                raise AssertionError(f"moment {moments[index]}, {signals[index].name}: {error}") from None


def test_the_first_signal_only_asks_and_a_second_stops_at_once():
    """In this process: the handler raises nothing the first time (the stop is taken at the next check), raises
    the second time, and the handlers in place before are back afterwards."""
    from normbench.engine.stopping import StopRequested

    before = signal.getsignal(signal.SIGTERM)
    if before is not signal.SIG_DFL:
        pytest.skip("SIGTERM is handled by someone else in this process: normbench leaves it alone")
    stop = StopRequested()
    with stop.on_signals():
        signal.raise_signal(signal.SIGTERM)  # returns: only the flag is set
        assert stop.reason == "SIGTERM"
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            stop.check()
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
