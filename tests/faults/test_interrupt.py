"""Ctrl-C and SIGTERM end a run without a traceback, record it as `interrupted` (with the steps it trained and
its checkpoint kept), and the same command resumes it; the report lists it as interrupted, never as a result."""

import json
import signal
import subprocess
import time

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
