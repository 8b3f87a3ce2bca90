"""advise's budget: parsing, and a plan that fits the budget at a measured speed."""

import pytest

from normbench.decide import budget
from normbench.errors import ConfigError

GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
NORMS = ("batch", "layer", "group", "none", "instance", "switch", "batch_renorm")


def test_parse_wall_clock_and_presets():
    assert [budget.parse_budget(text).seconds for text in ("90s", "20m", "2h", "1.5h")] == [90, 1200, 7200, 5400]
    quick = budget.parse_budget("quick")
    assert quick.seconds is None and quick.preset == "quick" and quick.max_seeds == budget.PRESETS["quick"]
    for bad in ("20", "20x", "0m", "-5m", "fast"):
        with pytest.raises(ConfigError, match=f"--budget {bad}: give a wall-clock time .*quick, standard"):
            budget.parse_budget(bad)


@pytest.mark.parametrize("text,per_step,parallel", [("20m", 0.01, 2), ("10m", 0.002, 2), ("2h", 0.05, 1),
                                                    ("20m", 0.01, 16)])
def test_the_plan_fits_the_budget_at_the_measured_speed(text, per_step, parallel):
    speed = budget.Speed(per_step, 3.0, parallel, measured=True)
    measure = speed.sweep_seconds(len(NORMS), budget.MEASURE_STEPS)
    wall = budget.parse_budget(text)
    plan = budget.make_plan(wall, NORMS, GRID, speed, config_steps=100000, measure_seconds=measure)
    assert plan.stages[0].name == "measure" and plan.stages[0].seconds == measure
    assert plan.seconds <= wall.seconds
    search_confirm = sum(stage.seconds for stage in plan.stages if stage.name.startswith(("search", "confirm")))
    assert measure + search_confirm <= budget.SEARCH_CONFIRM_SHARE * wall.seconds
    # the longest such step budget: the next rung of the ladder would not fit
    longer = budget.STEP_LADDER[budget.STEP_LADDER.index(plan.full_steps) + 1]
    assert measure + sum(s.seconds for s in budget.search_and_confirm(len(NORMS), len(GRID), longer, speed)) > \
        budget.SEARCH_CONFIRM_SHARE * wall.seconds
    assert plan.rung_steps[-1] <= plan.full_steps // 3 or plan.rung_steps[-1] == budget.MIN_RUNG_STEPS


def test_the_plan_never_trains_longer_than_the_config():
    speed = budget.Speed(1e-5, 0.1, 2, measured=True)
    plan = budget.make_plan(budget.parse_budget("2h"), NORMS, GRID, speed, config_steps=400)
    assert plan.full_steps == 400


def test_a_preset_trains_at_the_configs_steps_and_races_to_its_seed_limit():
    speed = budget.Speed(0.01, 3.0, 2, measured=False)
    plan = budget.make_plan(budget.parse_budget("quick"), NORMS, GRID, speed, config_steps=400)
    race = plan.stages[-1]
    assert plan.full_steps == 400 and plan.rung_steps == (44, 133)
    rounds = (budget.PRESETS["quick"] - budget.CONFIRM_SEEDS) // budget.RACE_SEEDS_PER_ROUND
    assert rounds >= 1
    assert race.runs == rounds * len(NORMS) * budget.RACE_SEEDS_PER_ROUND


def test_a_budget_too_small_says_how_much_the_least_plan_needs():
    speed = budget.Speed(0.05, 5.0, 1, measured=True)
    with pytest.raises(ConfigError, match=r"--budget 1m is too small for 7 norms × 6 learning rates: the least plan "
                                          r"\(50 steps a run\) needs about \d+ min"):
        budget.make_plan(budget.parse_budget("1m"), NORMS, GRID, speed, config_steps=6000)
