"""A number outside its range is no result: the report lists its run as unreadable, with the reason.

The ranges are the contract's (rundir/contract.py `value_range`), by name, so the writers' records pass them (a
real run below) and metrics added later (`final_val_acc`, `best_val_step`) are checked without another edit.
"""

import json
import math

import numpy as np
import pytest

from normbench.engine.run import run_experiment
from normbench.report.load import load_runs, read_metrics_csv
from normbench.report.load.record import UnreadableRun
from normbench.rundir.contract import summary_value_problem
from tests.core.conftest import TINY, make_cfg  # noqa: F401  (make_cfg: the fixture)
from tests.report.synthetic import flat_curves, make_summary, write_run_dir

STEPS = 100


def _run(root, seed, curves=None, **fields):
    recorded = {"steps": STEPS, "max_steps": STEPS, "final_train_loss": 1.0, "final_train_acc": 0.9,
                "final_test_loss": 1.0, "final_test_acc": 0.8, "steps_per_s": 50.0}
    summary = make_summary(seed=seed, **{**recorded, **fields})
    return write_run_dir(root / "sweep" / summary["run_name"], summary, curves or flat_curves(STEPS))


def _by_seed(runs):
    """An unreadable run has no columns from its summary: its seed is read from its name (`..._s1`)."""
    return {int(row["run_id"].rsplit("_s", 1)[1]): row for _, row in runs.iterrows()}


@pytest.mark.parametrize("fields, reason", [
    ({"final_test_acc": 7.5}, "final_test_acc=7.5 is not in [0, 1]"),
    ({"final_train_acc": -0.1}, "final_train_acc=-0.1 is not in [0, 1]"),
    ({"final_train_loss": -2.0}, "final_train_loss=-2.0 is not >= 0"),
    ({"final_test_loss": math.inf}, "final_test_loss=inf is not >= 0"),
    ({"final_test_acc": "0.5x"}, "final_test_acc='0.5x' is not a number"),
    ({"steps": 5000, "max_steps": 1000}, "steps=5000 is not a whole number in [0, 1000] (the run's max_steps)"),
    ({"steps_per_s": 0.0}, "steps_per_s=0.0 is not > 0"),
    ({"num_params": -3}, "num_params=-3 is not a whole number >= 0"),
    # Metrics other helpers add to the summary are checked by their names' rule, with no edit here.
    ({"final_val_acc": 1.5}, "final_val_acc=1.5 is not in [0, 1]"),
    ({"best_val_step": 101}, "best_val_step=101 is not a whole number in [0, 100] (the run's max_steps)"),
])
def test_a_summary_number_outside_its_range_makes_the_run_unreadable(tmp_path, fields, reason):
    root = tmp_path / "results"
    _run(root, 0)
    _run(root, 1, **fields)
    runs = _by_seed(load_runs([root]).runs)
    assert runs[0]["status"] == "completed"
    assert runs[1]["status"] == "unreadable" and runs[1]["reason"] == f"summary.json: {reason}"


def test_a_diverged_runs_loss_may_be_missing_or_not_finite_but_never_negative():
    diverged = make_summary(status="diverged", steps=40, max_steps=STEPS, diverged_step=40)
    assert summary_value_problem({**diverged, "final_train_loss": None}) is None
    assert summary_value_problem({**diverged, "final_train_loss": math.inf}) is None
    assert summary_value_problem({**diverged, "final_train_loss": -1.0}) == "summary.json: final_train_loss=-1.0 is not >= 0"
    assert summary_value_problem({**diverged, "diverged_step": STEPS + 1}).startswith("summary.json: diverged_step=101")


@pytest.mark.parametrize("one_by_one", [False, True], ids=["joined-parse", "one-by-one"])
def test_a_metrics_value_or_step_outside_its_range_makes_the_run_unreadable(tmp_path, one_by_one):
    root = tmp_path / "results"
    high_acc, late_eval = flat_curves(STEPS), flat_curves(STEPS)
    steps, values = high_acc["test/acc"]
    high_acc["test/acc"] = (steps, np.where(steps == 50, 7.5, values))  # 750% at step 50
    late_eval["test/acc"] = (np.r_[steps, 10**6], np.r_[values, 0.5])  # an evaluation far past the budget
    _run(root, 0)
    runs = {seed: _run(root, seed, curves) for seed, curves in ((1, high_acc), (2, late_eval))}
    if one_by_one:  # a blank line sends a file down the one-by-one parse
        for run in runs.values():
            text = (run / "metrics.csv").read_text()
            (run / "metrics.csv").write_text(text.replace("\n", "\n\n", 1))
    by_seed = _by_seed(load_runs([root]).runs)
    assert by_seed[0]["status"] == "completed"
    assert by_seed[1]["status"] == by_seed[2]["status"] == "unreadable"
    assert "1 rows outside their range" in by_seed[1]["reason"] and "test acc 7.5 is not in [0, 1]" in by_seed[1]["reason"]
    assert "step 1000000 is not a whole number in [0, 100]" in by_seed[2]["reason"]
    with pytest.raises(UnreadableRun, match="test acc 7.5 is not in"):
        read_metrics_csv(runs[1] / "metrics.csv")


def test_a_real_runs_records_are_within_their_ranges(make_cfg, tmp_path):  # noqa: F811  (the fixture)
    """The writers' notion and the reader's agree: what a run writes is read back as a result."""
    run_dir = tmp_path / "results" / "default" / "run"
    summary = run_experiment(make_cfg(*TINY, "model=mlp", "norm=batch", f"results_dir={tmp_path / 'results'}"),
                             run_dir)
    assert summary["status"] == "completed"
    assert summary_value_problem(json.loads((run_dir / "summary.json").read_text())) is None
    (row,) = [row for _, row in load_runs([tmp_path / "results"]).runs.iterrows()]
    assert row["status"] == "completed", row["reason"]


def test_the_writer_records_a_throughput_in_its_range_or_none():
    """A run resumed at its last step trained nothing in this attempt; a very slow one never rounds to 0 steps/s."""
    from normbench.engine.run import _steps_per_s

    assert _steps_per_s(0, 3.0) is None
    assert _steps_per_s(1, 1000.0) == 0.001 and _steps_per_s(300, 2.0) == 150.0
