"""`normbench advise`'s budget: a wall-clock time (`90s`, `20m`, `2h`) or a named preset, and the plan that fits it.

The cost model: a run of T steps takes `seconds_per_run + T × seconds_per_step` (measured on this machine by a
short run of every norm while the launcher runs its jobs side by side), and a sweep of J such runs on a
launcher that runs P at once takes ceil(J / P) of them end to end. A stage whose arms differ in learning rate is
one sweep per norm (Hydra sweeps a product of values, not a list of pairs), so the model counts its sweeps.

The plan picks the longest full step budget T (from a ladder of round numbers, at most the config's own
trainer.max_steps) for which measuring, the search and the confirmation take at most SEARCH_CONFIRM_SHARE of
the budget; the race spends the rest, a round at a time, while a round still fits.
"""

import math
import re
from dataclasses import asdict, dataclass

from normbench.decide.halving import ETA, rung_count, rung_steps
from normbench.errors import ConfigError

PRESETS = {"quick": 7, "standard": 11}  # preset -> most seeds per norm: 3 confirming + 2 or 4 race rounds of 2
MAX_SEEDS_TIMED = 21  # most seeds per norm under a wall-clock budget: past this, more seeds rarely decide
CONFIRM_SEEDS = 3
RACE_SEEDS_PER_ROUND = 2
MEASURE_STEPS = 30
MIN_RUNG_STEPS = 20
SEARCH_CONFIRM_SHARE = 0.6  # of a wall-clock budget (after measuring); the race gets the rest
STEP_LADDER = (50, 100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000,
               8000, 10000, 12000, 15000, 20000, 25000, 30000, 40000, 50000, 60000, 80000, 100000)
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Budget:
    text: str
    seconds: float | None  # wall clock; None for a preset, whose limit is its seeds
    max_seeds: int

    @property
    def preset(self) -> str | None:
        return self.text if self.text in PRESETS else None


def parse_budget(text: str) -> Budget:
    """`20m`, `2h`, `90s`, `1.5h`, or a preset name."""
    text = str(text).strip()
    if text in PRESETS:
        return Budget(text, None, PRESETS[text])
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh])", text)
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"--budget {text}: give a wall-clock time (90s, 20m, 2h) or a preset "
                          f"({', '.join(PRESETS)})")
    return Budget(text, float(match.group(1)) * _UNITS[match.group(2)], MAX_SEEDS_TIMED)


@dataclass(frozen=True)
class Speed:
    seconds_per_step: float  # one run's, while the launcher runs `parallel` side by side
    seconds_per_run: float  # a run's fixed cost: start-up, data, evaluations
    parallel: int  # runs at once
    measured: bool  # False: a prior, before anything ran on this machine

    def run_seconds(self, steps: int) -> float:
        return self.seconds_per_run + steps * self.seconds_per_step

    def sweep_seconds(self, runs: int, steps: int) -> float:
        return math.ceil(runs / self.parallel) * self.run_seconds(steps) if runs else 0.0


@dataclass(frozen=True)
class StagePlan:
    name: str
    runs: int
    steps: int  # per run
    seconds: float  # predicted wall time


@dataclass(frozen=True)
class Plan:
    budget: Budget
    norms: tuple
    grid: tuple  # the learning rates searched
    eta: int
    full_steps: int
    rung_steps: tuple
    confirm_seeds: int
    race_seeds_per_round: int
    speed: Speed
    stages: tuple  # StagePlan: measure (wall-clock budgets), search rungs, confirm, then the race's most

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def runs(self) -> int:
        return sum(stage.runs for stage in self.stages)

    def race_round_seconds(self, norms: int) -> float:
        """One race round: RACE_SEEDS_PER_ROUND seeds for each of `norms` norms, one sweep per norm."""
        return norms * self.speed.sweep_seconds(self.race_seeds_per_round, self.full_steps)

    def to_dict(self) -> dict:
        return {**asdict(self), "seconds": self.seconds, "runs": self.runs}


def arms_per_rung(grid_size: int, eta: int = ETA) -> tuple[int, ...]:
    arms, counts = grid_size, []
    for _ in range(rung_count(grid_size, eta)):
        counts.append(arms)
        arms = max(1, arms // eta)
    return tuple(counts)


def search_and_confirm(norms: int, grid_size: int, full_steps: int, speed: Speed, eta: int = ETA,
                       confirm_seeds: int = CONFIRM_SEEDS) -> list[StagePlan]:
    """The predicted search rungs and confirmation at full budget `full_steps`."""
    stages = []
    steps = rung_steps(full_steps, rung_count(grid_size, eta), MIN_RUNG_STEPS, eta)
    for index, (arms, rung) in enumerate(zip(arms_per_rung(grid_size, eta), steps)):
        # The first rung is one sweep (every norm × the grid); later rungs one sweep per norm, its own arms.
        seconds = (speed.sweep_seconds(norms * arms, rung) if index == 0
                   else norms * speed.sweep_seconds(arms, rung))
        stages.append(StagePlan(f"search rung {index + 1}", norms * arms, rung, seconds))
    stages.append(StagePlan("confirm", norms * confirm_seeds, full_steps,
                            norms * speed.sweep_seconds(confirm_seeds, full_steps)))
    return stages


def race_stage(norms: int, full_steps: int, speed: Speed, seconds_left: float | None, confirm_seeds: int,
               max_seeds: int) -> StagePlan:
    """The race's most: rounds of seeds to the norms in contention (planned as all of them) while a round fits."""
    per_round = norms * speed.sweep_seconds(RACE_SEEDS_PER_ROUND, full_steps)
    rounds = max(0, max_seeds - confirm_seeds) // RACE_SEEDS_PER_ROUND
    if seconds_left is not None:
        rounds = min(rounds, int(max(0.0, seconds_left) // per_round) if per_round > 0 else rounds)
    return StagePlan("race", rounds * norms * RACE_SEEDS_PER_ROUND, full_steps, rounds * per_round)


def make_plan(budget: Budget, norms: tuple, grid: tuple, speed: Speed, config_steps: int,
              measure_seconds: float = 0.0, eta: int = ETA) -> Plan:
    """The plan for this budget. A preset trains at the config's own step budget (`config_steps`); a wall-clock
    budget at the longest ladder step (<= config_steps) whose measuring, search and confirmation fit its share.
    A budget too small for the least plan is a ConfigError that says how much the least plan needs."""
    if not norms:
        raise ConfigError("no norm to compare")
    if budget.seconds is None:
        full = config_steps
    else:
        share = SEARCH_CONFIRM_SHARE * budget.seconds - measure_seconds
        candidates = [steps for steps in STEP_LADDER if steps <= config_steps] or [config_steps]
        fitting = [steps for steps in candidates
                   if sum(stage.seconds for stage in search_and_confirm(len(norms), len(grid), steps, speed, eta))
                   <= share]
        if not fitting:
            least = candidates[0]
            needed = (measure_seconds + sum(s.seconds for s in search_and_confirm(len(norms), len(grid), least,
                                                                                  speed, eta)))
            raise ConfigError(f"--budget {budget.text} is too small for {len(norms)} norms × {len(grid)} learning "
                              f"rates: the least plan ({least} steps a run) needs about "
                              f"{format_minutes(needed / SEARCH_CONFIRM_SHARE)}; give more, or fewer norms (norm=a,b)")
        full = fitting[-1]
    stages = search_and_confirm(len(norms), len(grid), full, speed, eta)
    left = None if budget.seconds is None else budget.seconds - measure_seconds - sum(s.seconds for s in stages)
    stages.append(race_stage(len(norms), full, speed, left, CONFIRM_SEEDS, budget.max_seeds))
    if budget.seconds is not None:  # measuring comes first, and counts against the budget
        stages.insert(0, StagePlan("measure", len(norms), MEASURE_STEPS, measure_seconds))
    steps = rung_steps(full, rung_count(len(grid), eta), MIN_RUNG_STEPS, eta)
    return Plan(budget, tuple(norms), tuple(grid), eta, full, steps, CONFIRM_SEEDS, RACE_SEEDS_PER_ROUND, speed,
                tuple(stages))


def extra_seconds(extra_seeds: int, norms: int, full_steps: int, speed: Speed) -> float:
    """Wall time to add `extra_seeds` seeds to each of `norms` norms (one sweep per norm)."""
    return norms * speed.sweep_seconds(extra_seeds, full_steps)


def format_minutes(seconds: float) -> str:
    minutes = seconds / 60
    if minutes >= 90:
        return f"{minutes / 60:.1f} h"
    return f"{max(1, math.ceil(minutes))} min"
