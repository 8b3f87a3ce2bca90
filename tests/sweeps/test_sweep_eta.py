"""The sweep's ETA weighs the runs still to go by their expected cost: their model's measured seconds per step
(else its prior, scaled to this machine) times their steps."""

import json

import pytest

from normbench.launch.eta import STEPS_PER_S_PRIOR, remaining_seconds


def _record(job, model, steps, seconds, status="completed"):
    return {"job": job, "run": f"run{job}", "status": status, "seconds": seconds, "model": model, "steps": steps}


def _plan(*jobs):
    return [{"job": number, "model": model, "steps": steps} for number, (model, steps) in enumerate(jobs)]


def test_a_recurrent_run_still_to_go_weighs_by_its_prior_against_the_measured_ones():
    plan = _plan(("mlp", 1000), ("mlp", 1000), ("rnn", 1000), ("rnn", 1000))
    ran = [_record(0, "mlp", 1000, 10.0), _record(1, "mlp", 1000, 10.0)]
    slower = STEPS_PER_S_PRIOR["mlp"] / STEPS_PER_S_PRIOR["rnn"]  # 15: a recurrent step costs 15 MLP steps
    assert remaining_seconds(ran, plan, 4, elapsed=20.0) == pytest.approx(2 * 10.0 * slower)
    # counting runs alone would have said 20 s
    assert remaining_seconds(ran, None, 4, elapsed=20.0) == pytest.approx(20.0)


def test_a_measured_model_uses_its_own_speed_and_longer_runs_cost_more():
    plan = _plan(("rnn", 1000), ("rnn", 3000), ("mlp", 1000))
    ran = [_record(0, "rnn", 1000, 40.0)]  # faster than the prior says: 40 s, not 10 × 15 × ...
    # the RNN of 3000 steps at the measured 0.04 s/step; the MLP by its prior, scaled as the RNN measured
    mlp = 1000 * 0.04 * STEPS_PER_S_PRIOR["rnn"] / STEPS_PER_S_PRIOR["mlp"]
    assert remaining_seconds(ran, plan, 3, elapsed=40.0) == pytest.approx(3000 * 0.04 + mlp)


def test_parallel_jobs_and_skipped_ones_are_carried_by_the_elapsed_time():
    plan = _plan(*[("mlp", 1000)] * 5)
    # two workers ran two 10 s jobs in 10 s; a skipped job took no time and says nothing about speed
    ran = [_record(0, "mlp", 1000, 10.0), _record(1, "mlp", 1000, 10.0), _record(2, "mlp", None, 0.1, "skipped")]
    assert remaining_seconds(ran, plan, 5, elapsed=10.0) == pytest.approx(10.0)  # two left, two at a time
    assert remaining_seconds([ran[2]], plan, 5, elapsed=1.0) is None  # nothing measured yet: no ETA


def test_a_sweeps_ledger_holds_the_plan_and_each_jobs_model_and_steps(finished_tiny_sweep):
    (ledger,) = (finished_tiny_sweep / "results" / "tiny" / ".sweeps").iterdir()
    plan = json.loads((ledger / "plan.json").read_text())
    assert plan == [{"job": job, "model": "mlp", "steps": 20} for job in range(3)]
    records = [json.loads(path.read_text()) for path in sorted(ledger.glob("job-*.json"))]
    assert [(record["model"], record["steps"]) for record in records] == [("mlp", 20)] * 3
