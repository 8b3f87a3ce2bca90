"""kill -9 at random points of a checkpointed sweep, re-launched until done: every run once, every step once.

A small sweep (2 tiny runs of 60 steps, a checkpoint every 5) is started through the real command line and killed
with os.killpg(SIGKILL) after a random delay, then started again, until a launch ends by itself with its
tally showing every run done. Rounds in fresh results directories repeat until at least KILLS kills have
landed. Each finished round must hold every run once, completed, with the train loss of every step 1..max_steps
in metrics.csv exactly once, the test rows of every eval step exactly once, and in TensorBoard one curve with
each logged step once (earlier attempts' later events purged).

The commands are forked from tests/faults/sweep_server.py, which imports torch and normbench once: a kill
costs tens of milliseconds of start-up instead of seconds. NORMBENCH_KILLS and NORMBENCH_KILL_SEED change
the number of kills and the random sequence (e.g. a longer soak: NORMBENCH_KILLS=200).
"""

import json
import os
import random
import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from normbench.rundir.contract import CHECKPOINT, LOCK, SUMMARY
from tests.forked import SweepServer
from tests.sweeps.conftest import tally_counts, write_tiny_study

from .conftest import metrics, steps_of

KILLS = int(os.environ.get("NORMBENCH_KILLS", "20"))
SEED = int(os.environ.get("NORMBENCH_KILL_SEED", "20261126"))
SEEDS, MAX_STEPS, EVAL, CHECKPOINT_EVERY = (0, 1), 60, 10, 5
DEADLINE_S = 240  # a hard stop for a machine far slower than expected; the loop takes ~30-50 s on 2 cores
# Most kills land while the sweep's jobs run: the delay counts from Hydra's "Launching" line, up to about the
# jobs' whole time on 2 busy cores. One kill in STARTUP_KILLS lands earlier, while the command starts up.
# Each kill in a row within one round stretches both windows by STRETCH: on a machine so busy (a second test
# worker, other jobs) that a launch cannot reach its next checkpoint within the window, the round would
# otherwise kill every launch until the deadline; stretched, the kills still land mid-run and the round ends.
JOBS_S, STARTUP_S, STARTUP_KILLS, STRETCH = 1.3, 1.0, 6, 1.5
RESUMES = 3  # rounds go on past KILLS kills until this many launches resumed a killed run from its checkpoint


@pytest.fixture
def server():
    server = SweepServer()
    yield server
    server.close()


def _check_round(study: Path, final_log: str) -> None:
    counts = tally_counts(final_log)
    assert counts["completed"] + counts["skipped"] == len(SEEDS), final_log
    assert counts["failed"] == counts["invalid"] == 0, final_log
    runs = sorted(path for path in study.iterdir() if path.is_dir() and not path.name.startswith("."))
    assert [run.name.rsplit("_s", 1)[1] for run in runs] == [str(seed) for seed in SEEDS]  # each run once
    evals = list(range(0, MAX_STEPS + 1, EVAL))
    windows = list(range(CHECKPOINT_EVERY, MAX_STEPS + 1, CHECKPOINT_EVERY))  # windows close at checkpoints
    for run in runs:
        summary = json.loads((run / SUMMARY).read_text())
        assert summary["status"] == "completed" and summary["steps"] == MAX_STEPS, run.name
        frame = metrics(run)
        assert not frame.duplicated(["step", "split", "metric"]).any(), run.name
        assert steps_of(frame, "train", "loss") == list(range(1, MAX_STEPS + 1)), run.name
        assert steps_of(frame, "test", "loss") == evals and steps_of(frame, "test", "acc") == evals, run.name
        assert not (run / CHECKPOINT).exists() and not (run / LOCK).exists(), run.name
        events = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload()
        assert [event.step for event in events.Scalars("train/loss")] == windows, run.name
        assert [event.step for event in events.Scalars("test/acc")] == evals, run.name


def test_random_kills_of_a_checkpointed_sweep_lose_and_repeat_nothing(server, tmp_path):
    rng = random.Random(SEED)
    conf = write_tiny_study(tmp_path / "conf", max_steps=MAX_STEPS)
    started = time.monotonic()
    kills = launches = resumes = rounds = 0
    while kills < KILLS or resumes < RESUMES:  # on a fast machine more kills land after a sweep's last step
        rounds += 1
        results = tmp_path / f"round{rounds}"
        argv = ["-m", "--config-dir", str(conf), "experiment=tiny", "data=synthetic", f"results_dir={results}",
                f"seed={','.join(map(str, SEEDS))}", f"trainer.checkpoint_interval={CHECKPOINT_EVERY}"]
        streak = 0  # launches of this round killed so far
        while True:
            assert time.monotonic() - started < DEADLINE_S, f"{kills} kills in {launches} launches: too slow"
            launches += 1
            log = tmp_path / f"launch{launches}.log"
            stretch = STRETCH ** streak
            if rng.randrange(STARTUP_KILLS):
                answer = server.run(argv, log, kill_after=rng.uniform(0.0, JOBS_S * stretch), clock_from="Launching")
            else:
                answer = server.run(argv, log, kill_after=rng.uniform(0.0, STARTUP_S * stretch))
            text = log.read_text()
            resumes += text.count(": resuming from step")
            if answer["killed"]:
                kills += 1
                streak += 1
                continue
            assert answer["exit"] == 0, text
            break
        _check_round(results / "tiny", text)
    print(f"{kills} kills, {launches} launches, {resumes} resumes, {rounds} rounds in "
          f"{time.monotonic() - started:.1f} s (seed {SEED})")
    assert resumes >= RESUMES  # kills landed mid-run, after checkpoints: the resume path was exercised
