"""`normbench advise` with a budget: the plan, the stages as sweeps, a killed advise continued, advice.json."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from normbench.cli.advise import main as advise_main
from normbench.decide import budget
from normbench.launch import protocol

REPO = Path(__file__).resolve().parents[2]
TINY = ["model=mlp", "data=synthetic", "data.num_train=200", "data.num_test=100", "trainer.max_steps=30",
        "trainer.eval_interval=15", "trainer.log_interval=5", "progress=false", "num_threads=1", "batch_size=20",
        "norm=batch,layer", "hydra/launcher=basic", "advise.lr_range=1e-3:3e-3"]


def summaries(results: Path) -> dict[Path, tuple]:
    """Each finished run's summary.json: (its bytes, its mtime): a run trained again would change both."""
    return {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in results.rglob("summary.json")}


def test_confirm_and_race_seeds_are_never_search_seeds():
    rounds = (budget.MAX_SEEDS_TIMED - budget.CONFIRM_SEEDS) // budget.RACE_SEEDS_PER_ROUND
    fresh = protocol.full_budget_seeds(budget.CONFIRM_SEEDS, budget.RACE_SEEDS_PER_ROUND, rounds)
    assert len(fresh) == budget.MAX_SEEDS_TIMED and len(set(fresh)) == len(fresh)
    assert protocol.SEARCH_SEED not in fresh
    assert protocol.full_budget_seeds(3, 2, 0) == (1000, 1001, 1002)
    assert protocol.full_budget_seeds(3, 2, 1)[-2:] == (1003, 1004)  # a round adds new seeds, never repeats one


@pytest.mark.parametrize("flags_first", [False, True], ids=["overrides first", "flags first"])
def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, capsys, flags_first):
    flags, overrides = ["--budget", "20m", "--dry-run"], [*TINY, f"results_dir={tmp_path}"]
    assert advise_main([*flags, *overrides] if flags_first else [*overrides, *flags]) == 0
    printed = capsys.readouterr().out
    plan = printed[printed.index("normbench advise plan (budget 20m; 2 norms: batch, layer; batch size 20)"):]
    assert "learning rates searched: 1e-3, 3e-3" in plan and "(a prior for the model, not measured here yet)" in plan
    assert [line.split()[0] for line in plan.splitlines()[3:8]] == ["measure", "search", "confirm", "race", "total"]
    assert plan.splitlines()[8].startswith("  (the race's runs count every norm in contention to the end")
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("metrics.csv"))


def test_a_bad_budget_is_one_line_and_exit_2(tmp_path, capsys):
    assert advise_main([*TINY, f"results_dir={tmp_path}", "--budget", "20 minutes"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "normbench advise: error: --budget 20 minutes: give a wall-clock time (90s, 20m, 2h) or a preset " \
                    "(quick, standard)"
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def _killed_after(results: Path, finished: int, timeout: float = 300) -> None:
    """`normbench advise` in a process of its own, killed (SIGKILL) once `finished` runs have a summary."""
    command = [sys.executable, "-m", "normbench.cli.main", "advise", *TINY, f"results_dir={results}", "--budget",
               "quick", "--out", str(results / "advice")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while len(list(results.rglob("summary.json"))) < finished:
            assert process.poll() is None, "advise ended before it could be killed"
            assert time.monotonic() < deadline, "advise made no progress"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_killed_advise_continues_and_retrains_nothing(tmp_path, capsys):
    results = tmp_path / "results"
    _killed_after(results, finished=6)  # the search's 4 runs and some of the confirmation
    before = summaries(results)
    assert len(before) >= 6
    assert advise_main([*TINY, f"results_dir={results}", "--budget", "quick", "--out", str(results / "advice")]) == 0
    after = summaries(results)
    assert {path: after[path] for path in before} == before  # no finished run trained again
    advice = json.loads((results / "advice" / "advice.json").read_text())
    assert advice["runs_trained_now"] == len(after) - len(before)
    assert advice["protocol_version"] == protocol.PROTOCOL_VERSION and advice["plan"]["full_steps"] == 30
    # the search ran on seed 0 only; every full-budget run on fresh seeds
    seeds = {json.loads(data)["seed"] for data, _ in after.values() if json.loads(data)["max_steps"] == 30}
    search = {json.loads(data)["seed"] for data, _ in after.values() if json.loads(data)["max_steps"] < 30}
    assert search == {protocol.SEARCH_SEED} and min(seeds) >= protocol.CONFIRM_SEED0
    printed = capsys.readouterr().out
    # the plan before the first sweep; then a progress line before each stage
    assert printed.index("normbench advise plan (budget quick") < printed.index("normbench advise: normbench train")
    assert "normbench advise: [search rung 1/1, 20 steps] runs 0/" in printed
    assert re.search(r"normbench advise: \[confirm\] runs 4/\d+ planned · 2 norms in the race · elapsed \d", printed)
    answer = printed[printed.index(advice["answer"][0]):]
    assert answer.splitlines()[len(advice["answer"]) + 1].split()[:3] == ["norm", "lr", "val"]
    # A third time: everything is on disk, nothing trains, the same answer.
    assert advise_main([*TINY, f"results_dir={results}", "--budget", "quick", "--out", str(results / "advice")]) == 0
    again = json.loads((results / "advice" / "advice.json").read_text())
    assert again["runs_trained_now"] == 0 and summaries(results) == after
    assert again["answer"] == advice["answer"] and again["table"] == advice["table"]


def _advisor(tmp_path, budget_text: str, state: protocol.State) -> protocol.Advisor:
    q = protocol.Question([], "mlp", 20, ("batch", "layer"), {}, (), (1e-3, 3e-3), 30, 1, tmp_path, 1.0,
                          budget.parse_budget(budget_text))
    state.write(q.state_path())
    advisor = protocol.Advisor(q)
    speed = budget.Speed(0.01, 1.0, 1, measured=True)
    advisor.plan = budget.make_plan(q.budget, q.norms, q.grid, speed, config_steps=30)
    return advisor


def test_a_race_past_its_plans_runs_says_so_and_its_eta_covers_the_round_it_starts(tmp_path):
    import io

    advisor = _advisor(tmp_path, "2h", protocol.State())
    advisor.out = io.StringIO()
    advisor.runs_done = advisor.plan.runs + 4  # every planned run done: the plan alone would say ETA 0s
    advisor.progress("race round 9", 2, starting_seconds=90.0)
    line = advisor.out.getvalue()
    assert f"runs {advisor.plan.runs + 4} ({advisor.plan.runs} planned: the race's rounds grew cheaper" in line
    assert line.rstrip().endswith("ETA 1m30s"), line


def test_a_rerun_replays_the_race_rounds_it_started_then_asks_the_budget(tmp_path):
    spent = protocol.State(speed=None, spent_s=10_000.0, race_rounds=2, closed=False)
    advisor = _advisor(tmp_path, "2h", spent)  # 10000 s spent: past the 2 h budget
    assert [advisor._round_allowed(done, ("batch", "layer"), 3 + 2 * (done + 1)) for done in range(3)] == \
        [True, True, False]
    closed = _advisor(tmp_path / "closed", "quick", protocol.State(race_rounds=1, closed=True))
    assert closed._round_allowed(0, ("batch", "layer"), 5) and not closed._round_allowed(1, ("batch", "layer"), 7)
    fresh = _advisor(tmp_path / "fresh", "quick", protocol.State())
    assert fresh._round_allowed(1, ("batch", "layer"), 7)  # quick allows 7 seeds a norm
    assert not fresh._round_allowed(2, ("batch", "layer"), 9)


def test_the_speed_is_measured_from_the_measuring_runs():
    runs = [{"steps": 30, "steps_per_s": 100.0, "wall_time_s": 2.0}, {"steps": 30, "steps_per_s": 50.0,
                                                                       "wall_time_s": 3.0}]
    speed = protocol.measured_speed(runs, sweep_seconds=10.0, parallel=2, trained_now=True)
    assert speed.seconds_per_step == (0.01 + 0.02) / 2 and speed.measured and speed.parallel == 2
    assert abs(speed.seconds_per_run - (10.0 - 30 * 0.015)) < 1e-9  # one wave of two runs took 10 s
    # Found on disk: the (skipping) sweep's own start-up plus the runs' recorded time beyond their steps.
    skipped = protocol.measured_speed(runs, sweep_seconds=4.0, parallel=2, trained_now=False)
    assert abs(skipped.seconds_per_run - (4.0 + 2.5 - 30 * 0.015)) < 1e-9
    assert protocol.measured_speed([{"steps": 30, "steps_per_s": None}], 5.0, 1, True) is None


@pytest.mark.parametrize("override,message", [
    ("advise.lr_range=fast", "advise.lr_range=fast: give LOW:HIGH, e.g. advise.lr_range=1e-4:3e-2"),
    ("advise.lr_range=1e-2:1e-3", "advise.lr_range: a learning-rate range needs 0 < low <= high, got 0.01…0.001"),
    ("advise.equivalence=-1", "advise.equivalence=-1: give a margin in percentage points > 0, e.g. 1"),
    ("seed=3", "seed=3: advise chooses it (the learning rate by its search, the seeds per stage, the budget from "
               "--budget); give a range with advise.lr_range=LOW:HIGH instead"),
    ("batch_size=4,32", "batch_size=4,32: advise answers one batch size at a time; run it once per batch size"),
])
def test_bad_advise_settings_are_one_line_and_exit_2(tmp_path, capsys, override, message):
    assert advise_main([*TINY, override, f"results_dir={tmp_path}", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == f"normbench advise: error: {message}"
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
