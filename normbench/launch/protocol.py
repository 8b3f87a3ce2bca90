"""The three stages of `normbench advise`, each an ordinary `normbench train -m` sweep (docs/advise.md).

measure  every norm for MEASURE_STEPS steps (wall-clock budgets only): the machine's seconds per step and per run
search   per norm, successive halving over a log grid of learning rates (normbench.decide.halving), seed 0
confirm  each surviving norm at its chosen learning rate, full step budget, fresh seeds CONFIRM_SEED0, ...
race     seeds added to the norms still in contention only (normbench.decide.racing), while the budget lasts

Every decision is a pure function of the runs on disk, and every run's overrides (its learning rate, its
trainer.max_steps, its seed) follow from those decisions: rerunning the same command finds the same runs,
skips them, and continues where it stopped. What cannot be read back from runs (the measured speed, the time
already spent, the race rounds started) is kept in a small state file beside the runs, written atomically.
"""

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from normbench.decide import budget as budgets
from normbench.decide import halving, racing
from normbench.errors import ConfigError
from normbench.launch import advise
from normbench.rundir.atomic import write_json_atomic
from normbench.rundir.contract import DIVERGED, FAILED, FINISHED, INVALID, SKIPPED, SUMMARY, digest

PROTOCOL_VERSION = 2  # 2: the race's error rates split over its comparisons (decide/racing.py)
SEARCH_SEED = 0  # the search's one seed per arm; the measuring runs use it too
CONFIRM_SEED0 = 1000  # confirmation and race seeds: 1000, 1001, ... never a search seed
SCORE = "final_val_acc"  # chosen on validation data; test metrics are shown, never decide
# Learning-rate ranges searched per optimizer (`advise.lr_range=LOW:HIGH` overrides); another optimizer's range is
# its configured lr ÷ DEFAULT_SPAN … × DEFAULT_SPAN.
LR_RANGES = {"adam": (1e-4, 3e-2), "sgd": (1e-3, 3.0)}
DEFAULT_SPAN = 10.0
OWN_KEYS = ("advise.lr_range", "advise.equivalence")  # advise's own settings among the overrides
STATE_DIR = ".advise"


@dataclass
class Question:
    """What is asked: the fixed overrides (the user's, the preset, the launcher), the norms, the grid."""

    fixed: list
    model: str
    batch_size: int
    norms: tuple
    settings: dict  # norm -> its own `norm.KEY=VALUE` overrides (a group count), () for most
    notes: tuple  # each norm left out and why, each setting chosen by a rule: said before training
    grid: tuple
    config_steps: int  # the config's own trainer.max_steps: the most a run trains
    parallel: int
    sweep_dir: Path
    equivalence: float
    budget: budgets.Budget

    def key(self, budget: bool = True) -> str:
        question = {"fixed": sorted(self.fixed), "batch_size": self.batch_size, "norms": list(self.norms),
                    "settings": {norm: list(own) for norm, own in self.settings.items() if own},
                    "grid": list(self.grid), "protocol": PROTOCOL_VERSION}
        return digest({**question, "budget": self.budget.text} if budget else question)

    def state_path(self) -> Path:
        return self.sweep_dir / STATE_DIR / f"{self.key()}.json"

    def speed_path(self) -> Path:
        """The measured speed, shared by every budget of the question (the measuring runs are the same)."""
        return self.sweep_dir / STATE_DIR / f"speed-{self.key(budget=False)}.json"


def split_own(overrides: list[str]) -> tuple[list[str], dict]:
    """The overrides for `normbench train`, and advise's own settings (advise.lr_range, advise.equivalence)."""
    rest, own = [], {}
    for override in overrides:
        key, _, value = override.partition("=")
        if key in OWN_KEYS:
            own[key] = value
        else:
            rest.append(override)
    return rest, own


def _lr_range(text: str | None, optimizer: str, lr: float) -> tuple[float, float]:
    if text is None:
        return LR_RANGES.get(optimizer, (lr / DEFAULT_SPAN, lr * DEFAULT_SPAN))
    parts = text.strip("[]()").replace(":", ",").split(",")
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        raise ConfigError(f"advise.lr_range={text}: give LOW:HIGH, e.g. advise.lr_range=1e-4:3e-2") from None
    return low, high


def _equivalence(text: str | None) -> float:
    if text is None:
        return racing.EQUIVALENCE_PP
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"advise.equivalence={text}: give a margin in percentage points > 0, e.g. 1")
    return value


def _parallel(launcher) -> int:
    """How many runs the chosen launcher runs at once."""
    target = str(launcher.get("_target_", ""))
    cpus = os.cpu_count() or 1
    if "Joblib" in target:
        jobs = int(launcher.get("n_jobs") or 1)
        return cpus if jobs < 0 else max(1, jobs)
    if "Slurm" in target:
        return max(1, int(launcher.get("array_parallelism") or 1))
    if "Local" in target:  # submitit's local executor: every run at once, sharing the cores
        return cpus
    return 1


def question(overrides: list[str], budget_text: str) -> Question:
    """The question the overrides ask, with everything composed and checked before anything trains."""
    budget = budgets.parse_budget(budget_text)
    train_overrides, own = split_own(overrides)
    refused = [o for o in train_overrides if o.split("=", 1)[0].lstrip("+~") in ("optim.lr", "seed", "advise")]
    if refused:
        raise ConfigError(f"{refused[0]}: advise chooses it (the learning rate by its search, the seeds per stage, "
                          "the budget from --budget); give a range with advise.lr_range=LOW:HIGH instead")
    sweep_plan = advise.plan(train_overrides, budget.preset or "standard")
    sizes = sorted({size for sweep in sweep_plan.sweeps for size in sweep.batch_sizes})
    if len(sizes) > 1:
        raise ConfigError(f"batch_size={','.join(map(str, sizes))}: advise answers one batch size at a time; "
                          "run it once per batch size")
    if not sizes:
        raise ConfigError("no norm builds on this model at this batch size: " + "; ".join(sweep_plan.notes))
    norms = tuple(norm for sweep in sweep_plan.sweeps for norm in sweep.norms)
    settings = {norm: tuple(sweep.settings) for sweep in sweep_plan.sweeps for norm in sweep.norms}
    # `advise=standard` changes nothing: left out, so run names carry only what a wall-clock plan sets itself.
    fixed = [override for override in sweep_plan.fixed if override != "advise=standard"]
    cfg = advise.compose([*fixed, f"batch_size={sizes[0]}", f"norm={norms[0]}", *settings[norms[0]]], hydra=True)
    # trainer.max_steps (the user's, a study's or a preset's) is the most a run trains; each stage sets its own.
    fixed = [override for override in fixed if override.split("=", 1)[0].lstrip("+~") != "trainer.max_steps"]
    if cfg.trainer.epochs is not None:
        raise ConfigError("trainer.epochs is set: advise plans its runs in steps; leave trainer.epochs out")
    low, high = _lr_range(own.get("advise.lr_range"), str(cfg.optim.name), float(cfg.optim.lr))
    try:
        grid = halving.log_grid(low, high)
    except ValueError as error:
        raise ConfigError(f"advise.lr_range: {error}") from None
    return Question(fixed, str(cfg.model.name), int(sizes[0]), norms, settings, tuple(sweep_plan.notes), grid,
                    int(cfg.trainer.max_steps), _parallel(cfg.hydra.launcher), Path(str(cfg.hydra.sweep.dir)),
                    _equivalence(own.get("advise.equivalence")), budget)


def full_budget_seeds(confirm: int, per_round: int, rounds: int) -> tuple:
    """The seeds of the confirmation and of `rounds` race rounds: CONFIRM_SEED0 on, never a search seed."""
    return tuple(range(CONFIRM_SEED0, CONFIRM_SEED0 + confirm + rounds * per_round))


# --- state kept beside the runs ------------------------------------------------------------------------------

@dataclass
class State:
    speed: dict | None = None
    spent_s: float = 0.0  # wall time of earlier invocations
    race_rounds: int = 0  # race rounds started
    closed: bool = False  # the race ended (decided, or the budget spent)

    @classmethod
    def read(cls, path: Path) -> "State":
        try:
            data = json.loads(path.read_text())
            return cls(data.get("speed"), float(data.get("spent_s", 0.0)), int(data.get("race_rounds", 0)),
                       bool(data.get("closed", False)))
        except (OSError, ValueError, TypeError, AttributeError):
            return cls()

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"protocol_version": PROTOCOL_VERSION, "speed": self.speed, "spent_s": self.spent_s,
                                 "race_rounds": self.race_rounds, "closed": self.closed})


def _read_speed(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
        budgets.Speed(**data)  # the fields a Speed has, or none at all
        return data
    except (OSError, ValueError, TypeError):
        return None


def prior_speed(model: str, parallel: int) -> budgets.Speed:
    """Before anything ran: the ETA machinery's prior steps/s for the model (one core, batch 100)."""
    from normbench.launch.eta import DEFAULT_PRIOR, STEPS_PER_S_PRIOR

    return budgets.Speed(1.0 / STEPS_PER_S_PRIOR.get(model, DEFAULT_PRIOR), 5.0, parallel, measured=False)


def measured_speed(summaries: list[dict], sweep_seconds: float, parallel: int,
                   trained_now: bool) -> budgets.Speed | None:
    """From the measuring runs: the mean seconds per step over the norms, and a run's fixed cost: the sweep's wall
    time per wave of parallel runs beyond their steps. When the runs were found on disk (skipped), that sweep cost
    only its own start-up, and the runs' recorded wall time beyond their steps is added to it."""
    timed = [s for s in summaries if s.get("steps_per_s") and s.get("steps")]
    if not timed:
        return None
    per_step = sum(1.0 / s["steps_per_s"] for s in timed) / len(timed)
    steps = max(s["steps"] for s in timed)
    per_wave = sweep_seconds / math.ceil(len(summaries) / parallel)
    if trained_now:
        per_run = per_wave - steps * per_step
    else:
        per_run = per_wave + sum(float(s.get("wall_time_s") or 0.0) for s in timed) / len(timed) - steps * per_step
    return budgets.Speed(per_step, max(0.0, per_run), parallel, measured=True)


# --- running the stages ------------------------------------------------------------------------------------

@dataclass
class Runs:
    """Every run advise has seen, by (norm, lr, steps, seed): its summary (None: no summary was written)."""

    by_key: dict = field(default_factory=dict)
    trained: int = 0  # runs this invocation trained (not skipped)

    def add(self, tally) -> None:
        self.trained += sum(1 for record in tally.records if record["status"] not in (SKIPPED, INVALID))
        for path in advise.run_dirs(tally):
            try:
                summary = json.loads((path / SUMMARY).read_text())
            except (OSError, ValueError):
                continue
            summary["run_dir"] = str(path)
            key = (summary.get("norm"), float(summary.get("lr")), int(summary.get("max_steps") or 0),
                   int(summary.get("seed")))
            self.by_key[key] = summary

    def summary(self, norm: str, lr: float, steps: int, seed: int) -> dict | None:
        return self.by_key.get((norm, lr, steps, seed))

    def score(self, norm: str, lr: float, steps: int, seed: int) -> float | None:
        """The run's validation accuracy in pp; None when it diverged, failed or never reported."""
        summary = self.summary(norm, lr, steps, seed)
        if summary is None or summary.get("status") == DIVERGED:
            return None
        if SCORE not in summary:
            raise ConfigError(f"{summary['run_dir']} has no {SCORE}: advise chooses on validation data only "
                              "(data.val_fraction > 0)")
        value = summary[SCORE]
        return None if value is None else 100.0 * float(value)


class Advisor:
    """Runs the stages of one question, printing the plan and progress lines."""

    def __init__(self, q: Question, out=None):
        self.q, self.out = q, out
        self.runs = Runs()
        self.state = State.read(q.state_path())
        if self.state.speed is None:  # measured for another budget of the same question
            self.state.speed = _read_speed(q.speed_path())
        self.started = time.time()
        self.plan: budgets.Plan | None = None
        self.search: dict = {}  # norm -> [halving.Rung]
        self.chosen: dict = {}  # norm -> lr
        self.dropped: dict = {}  # norm -> why the search dropped it
        self.failures = 0
        self.runs_done = 0

    # -- bookkeeping
    def elapsed(self) -> float:
        return self.state.spent_s + time.time() - self.started

    def save(self) -> None:
        spent = self.elapsed()
        State(self.state.speed, spent, self.state.race_rounds, self.state.closed).write(self.q.state_path())

    def say(self, line: str) -> None:
        print(f"normbench advise: {line}", file=self.out or sys.stdout, flush=True)  # sys.stdout as it is now

    def progress(self, stage: str, arms: int, starting_seconds: float = 0.0) -> None:
        """One line before a stage or race round; `starting_seconds`: the predicted time of what starts now, which
        the ETA never falls below (a race can go on past its plan's runs while the budget allows rounds)."""
        planned = self.plan.runs
        elapsed = self.elapsed()
        eta = self.eta(elapsed)
        if eta is not None:
            eta = max(eta, starting_seconds)
        runs = f"{self.runs_done}/{planned} planned" if self.runs_done <= planned else \
            f"{self.runs_done} ({planned} planned: the race's rounds grew cheaper as norms left it)"
        self.say(f"[{stage}] runs {runs} · {arms} norms in the race · elapsed "
                 f"{_duration(elapsed)}" + (f" · ETA {_duration(eta)}" if eta is not None else ""))

    def eta(self, elapsed: float) -> float | None:
        if self.plan is None:
            return None
        done = self._predicted_done()
        left = max(0.0, self.plan.seconds - done)
        if done > 0 and self.runs.trained:  # the plan's speed corrected by how long the runs so far really took
            left *= elapsed / done
        if self.q.budget.seconds is not None:
            left = min(left, max(0.0, self.q.budget.seconds - elapsed))
        return left

    def _predicted_done(self) -> float:
        done, total = 0.0, self.runs_done
        for stage in self.plan.stages:
            if total <= 0:
                break
            share = min(1.0, total / stage.runs) if stage.runs else 1.0
            done += share * stage.seconds
            total -= stage.runs
        return done

    def sweep(self, norms, lrs, steps: int, seeds) -> list:
        """`normbench train -m` over norms × lrs × seeds at `steps`, one sweep per distinct set of the norms' own
        settings (a GroupNorm with its group count beside norms without that key); their tallies."""
        by_settings: dict[tuple, list] = {}
        for norm in norms:
            by_settings.setdefault(self.q.settings.get(norm, ()), []).append(norm)
        tallies = []
        for settings, group in by_settings.items():
            arguments = ["-m", *self.q.fixed, *settings, f"batch_size={self.q.batch_size}", f"norm={','.join(group)}",
                         f"optim.lr={','.join(f'{lr:g}' for lr in lrs)}", f"trainer.max_steps={steps}",
                         f"seed={','.join(str(seed) for seed in seeds)}"]
            self.say("normbench train " + " ".join(arguments))
            status, tally = advise.run_sweep(arguments)
            if tally is None:  # refused before any job ran: its one-line reason is already printed
                raise ConfigError(f"a sweep of the {len(group)} norms was refused (exit {status}); see above")
            self.runs.add(tally)
            self.runs_done += len(group) * len(lrs) * len(seeds)
            self.failures += sum(1 for record in tally.records if record["status"] in (FAILED, INVALID))
            tallies.append(tally)
        return tallies

    # -- stages
    def make_plan(self, dry_run: bool) -> budgets.Plan:
        q = self.q
        speed = budgets.Speed(**self.state.speed) if self.state.speed else None
        if speed is None and q.budget.seconds is not None and not dry_run:
            speed = self.measure()
        if speed is None:
            speed = prior_speed(q.model, q.parallel)
        measure = (speed.sweep_seconds(len(q.norms), budgets.MEASURE_STEPS)
                   if q.budget.seconds is not None else 0.0)
        self.plan = budgets.make_plan(q.budget, q.norms, q.grid, speed, q.config_steps, measure)
        return self.plan

    def measure(self) -> budgets.Speed:
        q = self.q
        middle = q.grid[len(q.grid) // 2]
        self.say(f"[measure] every norm for {budgets.MEASURE_STEPS} steps: this machine's speed")
        started = time.time()
        tallies = self.sweep(q.norms, (middle,), budgets.MEASURE_STEPS, (SEARCH_SEED,))
        trained_now = any(record["status"] not in (SKIPPED, INVALID) for tally in tallies for record in tally.records)
        summaries = [s for norm in q.norms if (s := self.runs.summary(norm, middle, budgets.MEASURE_STEPS,
                                                                      SEARCH_SEED))]
        speed = measured_speed(summaries, time.time() - started, q.parallel, trained_now)
        if speed is None:
            raise ConfigError("no measuring run reported its speed: see the failures above")
        self.state.speed = speed.__dict__
        q.speed_path().parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(q.speed_path(), self.state.speed)
        self.save()
        return speed

    def run_search(self) -> None:
        q, plan = self.q, self.plan
        arms = dict.fromkeys(q.norms, q.grid)
        self.search = {norm: [] for norm in q.norms}
        for index, steps in enumerate(plan.rung_steps):
            alive = [norm for norm in q.norms if arms[norm]]
            self.progress(f"search rung {index + 1}/{len(plan.rung_steps)}, {steps} steps", len(alive))
            if index == 0:  # every norm shares the grid: one sweep
                self.sweep(alive, q.grid, steps, (SEARCH_SEED,))
            else:
                for norm in alive:
                    self.sweep((norm,), arms[norm], steps, (SEARCH_SEED,))
            for norm in alive:
                scores = {lr: self.runs.score(norm, lr, steps, SEARCH_SEED) for lr in arms[norm]}
                promoted = halving.promote(arms[norm], scores, plan.eta)
                self.search[norm].append(halving.Rung(steps, arms[norm], scores, promoted))
                arms[norm] = promoted
        for norm in q.norms:
            reason = halving.dropped_reason(self.search[norm])
            if reason:
                self.dropped[norm] = reason
            else:
                self.chosen[norm] = arms[norm][0] if self.search[norm] else q.grid[0]

    def _full_sweeps(self, norms, seeds) -> None:
        """Full-budget runs of these norms at their chosen learning rates: one sweep per learning rate."""
        by_lr: dict = {}
        for norm in norms:
            by_lr.setdefault(self.chosen[norm], []).append(norm)
        for lr, group in by_lr.items():
            self.sweep(tuple(group), (lr,), self.plan.full_steps, seeds)

    def confirm_seeds(self, rounds: int) -> tuple:
        return full_budget_seeds(self.plan.confirm_seeds, self.plan.race_seeds_per_round, rounds)

    def scores(self, seeds_by_norm: dict) -> dict:
        """Each norm's validation scores over its full-budget seeds that finished (a diverged one: None, counted 0
        by the race); a failed or unreported run is no evidence either way and is left out."""
        def finished(norm: str, seed: int) -> bool:
            summary = self.runs.summary(norm, self.chosen[norm], self.plan.full_steps, seed)
            return summary is not None and summary.get("status") in FINISHED

        scores = {norm: [self.runs.score(norm, self.chosen[norm], self.plan.full_steps, seed)
                         for seed in seeds_by_norm[norm] if finished(norm, seed)]
                  for norm in self.chosen}
        return {norm: values for norm, values in scores.items() if values}  # no finished run: no evidence

    def run_confirm_and_race(self) -> racing.RaceOutcome:
        if not self.chosen:
            return racing.RaceOutcome(racing.NONE, None)
        self.progress("confirm", len(self.chosen))
        first = self.confirm_seeds(0)
        self._full_sweeps(tuple(self.chosen), first)
        seeds = dict.fromkeys(self.chosen, first)
        tests = racing.planned_tests(len(self.chosen), len(first), self.q.budget.max_seeds,
                                     self.plan.race_seeds_per_round)
        rounds = 0
        while True:
            outcome = racing.race(self.scores(seeds), self.q.equivalence, tests=tests)
            if outcome.kind != racing.CONTINUE:
                self.state.closed = True
                self.save()
                return outcome
            more = self.confirm_seeds(rounds + 1)
            if not self._round_allowed(rounds, outcome.contention, len(more)):
                self.state.closed = True
                self.save()
                return racing.race(self.scores(seeds), self.q.equivalence, at_budget=True, tests=tests)
            rounds += 1
            self.state.race_rounds = max(self.state.race_rounds, rounds)
            self.save()
            self.progress(f"race round {rounds}", len(outcome.contention),
                          self.plan.race_round_seconds(len(outcome.contention)))
            self._full_sweeps(outcome.contention, more[-self.plan.race_seeds_per_round:])
            for norm in outcome.contention:
                seeds[norm] = more

    def _round_allowed(self, rounds_done: int, contention: tuple, seeds_after: int) -> bool:
        """Whether round `rounds_done + 1` runs: it did before (a rerun replays it), or it fits what is left."""
        if rounds_done < self.state.race_rounds:
            return True
        if self.state.closed or seeds_after > self.q.budget.max_seeds:
            return False
        if self.q.budget.seconds is None:
            return True
        return self.elapsed() + self.plan.race_round_seconds(len(contention)) <= self.q.budget.seconds


def _duration(seconds: float) -> str:
    from normbench.launch.tally import format_duration

    return format_duration(seconds)
