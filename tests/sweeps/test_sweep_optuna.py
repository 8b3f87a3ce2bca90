"""Hydra's Optuna sweeper searches over normbench runs: the task returns the run's objective (a float), the worst
value for a run that did not complete, and a sweeper direction that contradicts the objective's is refused."""

import math

import pytest
import yaml

from normbench.config.preflight import command_line_error
from normbench.launch.objective import objective_value

from .conftest import BASE, normbench_train, summaries

SEARCH_STUDY = """# @package _global_
experiment: search
batch_size: 50
progress: false
num_threads: 1
data:
  num_train: 200
  num_test: 100
trainer:
  max_steps: 10
  eval_interval: 10
  log_interval: 10
"""


@pytest.mark.slow
def test_a_three_trial_optuna_search_over_the_learning_rate_finds_the_best_run(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "search.yaml").write_text(SEARCH_STUDY)
    out = normbench_train("-m", "--config-dir", str(tmp_path / "conf"), "experiment=search", *BASE,
                          f"results_dir={tmp_path / 'results'}", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=3",
                          "hydra.sweeper.direction=maximize", "hydra.sweeper.sampler.seed=0",
                          "optim.lr=tag(log, interval(1e-4, 1))")
    assert out.returncode == 0, out.stderr
    study = tmp_path / "results" / "search"
    runs = summaries(study)
    assert len(runs) == 3 and all(run["status"] == "completed" for run in runs.values())
    best = max(runs.values(), key=lambda run: run["final_val_acc"])
    result = yaml.safe_load((study / "optimization_results.yaml").read_text())
    assert result["best_value"] == best["final_val_acc"]
    assert result["best_params"]["optim.lr"] == pytest.approx(best["lr"])
    assert "completed" in out.stdout  # the sweep's tally still reads the runs' statuses


def test_a_sweeper_minimizing_what_the_runs_maximize_is_refused_before_any_run(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    out = normbench_train("-m", *BASE, f"results_dir={tmp_path}", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=1",
                          "optim.lr=interval(1e-3, 1e-1)")  # the sweeper minimizes by default; final_test_acc is maximized
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "normbench: error: hydra.sweeper.direction=minimize but objective_direction=maximize: give the same "
        "direction to both (e.g. hydra.sweeper.direction=maximize, or objective_direction=minimize for an "
        "objective to minimize)")
    assert not list(tmp_path.glob("*/*/summary.json"))


def test_an_unknown_objective_is_refused_in_one_line_naming_the_allowed_ones():
    problem = command_line_error(["objective=test_acc"])
    assert problem == ("objective=test_acc is not a summary metric; choose one of: final_train_loss, final_train_acc, "
                       "final_test_loss, final_test_acc, final_val_loss, final_val_acc, best_val_acc, steps, "
                       "steps_per_s, wall_time_s, num_params")
    assert command_line_error(["objective_direction=up"]).startswith("objective_direction=up is not allowed")
    assert command_line_error(["objective=final_test_loss", "objective_direction=minimize"]) is None


@pytest.mark.parametrize("status", ["diverged", "failed", "interrupted"])
def test_a_run_that_did_not_complete_is_the_worst_for_either_direction(status):
    summary = {"status": status, "final_test_acc": 0.9, "final_test_loss": 0.1}
    assert objective_value(summary, "final_test_acc", "maximize") == -math.inf
    assert objective_value(summary, "final_test_loss", "minimize") == math.inf
    completed = {**summary, "status": "completed"}
    assert objective_value(completed, "final_test_acc", "maximize") == 0.9
    assert objective_value({**completed, "final_test_acc": None}, "final_test_acc", "maximize") == -math.inf


def test_the_default_objective_reads_no_test_metric():
    """Chosen on validation data: every test metric of a completed run perturbed, the objective is the same."""
    from normbench.config.schema import Config

    summary = {"status": "completed", "final_val_acc": 0.7, "final_val_loss": 0.9, "best_val_acc": 0.75,
               "final_test_acc": 0.8, "final_test_loss": 0.5}
    perturbed = {**summary, "final_test_acc": 0.1, "final_test_loss": 9.0}
    assert Config.objective == "final_val_acc"
    assert objective_value(summary, Config.objective, "maximize") == objective_value(perturbed, Config.objective,
                                                                                     "maximize") == 0.7
