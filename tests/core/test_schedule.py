"""Learning-rate schedules: the warm-up and decay formulas, what metrics.csv and the summary show, the
identity of runs without a schedule, and a resume that continues the schedule where it was."""

import math

import pandas as pd
import pytest

from normbench.config.options import Schedule
from normbench.engine.run import run_experiment
from normbench.engine.trainer import Trainer
from normbench.errors import ConfigError
from normbench.optim._schedule import lr_factor
from normbench.rundir.identity import config_hash

from .conftest import TINY

SCHEDULED = ["data=synthetic", "optim.warmup_steps=6", "optim.schedule=cosine", "trainer.max_steps=24",
             "trainer.log_interval=2", "trainer.eval_interval=12", "progress=false"]


def expected_factor(step: int, warmup: int, schedule: str, budget: int) -> float:
    """The documented rule for the s-th step (1-based), written independently of the code's LambdaLR count."""
    if step <= warmup:
        return step / warmup
    progress = (step - warmup - 1) / (budget - warmup)
    return {"constant": 1.0, "cosine": (1 + math.cos(math.pi * progress)) / 2, "linear": 1 - progress}[schedule]


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear"])
def test_lr_factor_follows_the_documented_warm_up_and_decay(schedule):
    budget, warmup = 50, 8
    factors = [lr_factor(step - 1, warmup, Schedule(schedule), budget) for step in range(1, budget + 1)]
    assert factors == pytest.approx([expected_factor(s, warmup, schedule, budget) for s in range(1, budget + 1)])
    assert factors[0] == pytest.approx(1 / warmup) and factors[warmup - 1] == 1.0  # linear from 0 to the peak
    # The decays end at 0 right after the last step (no step spent at lr 0); constant stays at the peak.
    assert lr_factor(budget, warmup, Schedule(schedule), budget) == (1.0 if schedule == "constant" else 0.0)
    assert min(factors) > 0


def test_metrics_show_the_lr_rising_through_the_warm_up_then_falling_and_the_summary_records_the_schedule(
        make_cfg, tmp_path):
    summary = run_experiment(make_cfg(*SCHEDULED), tmp_path / "run")
    frame = pd.read_csv(tmp_path / "run" / "metrics.csv")
    lr = frame[(frame.split == "train") & (frame.metric == "lr")].sort_values("step")
    values = lr.value.to_numpy()
    peak = int(values.argmax())
    assert lr.step.iloc[peak] == 6 and values[peak] == pytest.approx(0.01)  # the peak at the warm-up's end
    assert (values[1 : peak + 1] > values[:peak]).all()  # rising through the warm-up ...
    falling = values[peak + 1 :]  # ... then the decay, falling at every log point to near 0 at the end
    assert (falling < values[peak]).all() and (falling[1:] < falling[:-1]).all() and falling[-1] < 0.0005
    assert values == pytest.approx([0.01 * expected_factor(s, 6, "cosine", 24) for s in lr.step])
    assert summary["lr_schedule"] == "cosine" and summary["warmup_steps"] == 6
    assert summary["optimizer"] == "adam warmup=6 cosine" and summary["lr"] == 0.01


def test_runs_at_the_default_schedule_keep_their_identity_and_a_schedule_changes_it(make_cfg):
    plain = config_hash(make_cfg("data=synthetic"))
    assert config_hash(make_cfg("data=synthetic", "optim.warmup_steps=0", "optim.schedule=constant")) == plain
    assert config_hash(make_cfg("data=synthetic", "optim.warmup_steps=5")) != plain
    assert config_hash(make_cfg("data=synthetic", "optim.schedule=linear")) != plain


def test_a_warm_up_as_long_as_the_budget_is_refused_in_one_line_before_anything_is_written(make_cfg, tmp_path):
    cfg = make_cfg(*TINY, "data=synthetic", "optim.warmup_steps=40")
    with pytest.raises(ConfigError, match=r"optim.warmup_steps=40 must be smaller than the budget of 40 steps"):
        run_experiment(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.csv").exists()


class _Killed(BaseException):
    """Stands for kill -9: no except clause of normbench's catches it."""


def _untimed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.metric != "samples_per_s"].reset_index(drop=True)


def _killed_at_step_12_then_resumed(cfg, run_dir, monkeypatch, keep_scheduler: bool = True) -> dict:
    evaluate, state_dict = Trainer.evaluate, Trainer.state_dict

    def evaluate_then_die(trainer):
        evaluate(trainer)
        if trainer.step == 12:  # mid-decay, with a checkpoint at 8: the schedule must resume at step 9
            raise _Killed

    monkeypatch.setattr(Trainer, "evaluate", evaluate_then_die)
    if not keep_scheduler:  # a checkpoint that forgets the scheduler's state
        monkeypatch.setattr(Trainer, "state_dict",
                            lambda trainer: {k: v for k, v in state_dict(trainer).items() if k != "scheduler"})
    with pytest.raises(_Killed):
        run_experiment(cfg, run_dir)
    monkeypatch.undo()
    return run_experiment(cfg, run_dir)


def test_a_run_resumed_mid_schedule_has_the_lr_column_and_loss_curve_of_an_uninterrupted_one(
        make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg(*SCHEDULED, "trainer.checkpoint_interval=4")
    whole = run_experiment(cfg, tmp_path / "whole")
    resumed = _killed_at_step_12_then_resumed(cfg, tmp_path / "cut", monkeypatch)
    assert resumed["resumed_from_step"] == 8
    expected = _untimed(pd.read_csv(tmp_path / "whole" / "metrics.csv"))
    pd.testing.assert_frame_equal(_untimed(pd.read_csv(tmp_path / "cut" / "metrics.csv")), expected)
    assert resumed["final_train_loss"] == whole["final_train_loss"]
    # The comparison can fail: a resume without the scheduler's state restarts the warm-up.
    _killed_at_step_12_then_resumed(cfg, tmp_path / "forgot", monkeypatch, keep_scheduler=False)
    lr = lambda frame: frame.query("metric == 'lr'").value.to_numpy()  # noqa: E731
    assert lr(pd.read_csv(tmp_path / "forgot" / "metrics.csv")) != pytest.approx(lr(expected))
