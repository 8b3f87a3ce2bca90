"""Selection on validation data, reporting on test data; and each norm at its own best tuned setting.

Everything that decides (the score, the per-norm choice of learning rate, the tie-breaks) reads validation
metrics. A comparison set with a run that has no validation metric (written before `data.val_fraction` existed,
an "old run") falls back to the old rule, on test metrics, and says so (`FALLBACK_NOTE`).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from normbench.rundir.contract import COMPLETED, DIVERGED

VAL_SCORE, TEST_SCORE = "final_val_acc_or_0", "final_test_acc_or_0"  # diverged seeds count as 0
VAL_LOSS, TEST_LOSS = "final_val_loss", "final_test_loss"
FALLBACK_NOTE = ("some runs have no validation metric (written before validation splits): this setting is chosen "
                 "on test accuracy, the old rule, and its test figures are biased upward")


@dataclass(frozen=True)
class Metrics:
    """The columns a decision reads: validation ones, or test ones for old runs."""

    score: str
    loss: str
    on_validation: bool

    @property
    def split(self) -> str:
        return "validation" if self.on_validation else "test"


VALIDATION, OLD_RULE = Metrics(VAL_SCORE, VAL_LOSS, True), Metrics(TEST_SCORE, TEST_LOSS, False)


def add_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with final_val_acc_or_0 and final_test_acc_or_0: the final accuracy, 0 for a diverged run (it
    produced no usable model: dropping it would reward a norm for failing)."""
    runs = runs.copy()
    diverged = runs["status"] == DIVERGED
    for score, column in ((VAL_SCORE, "final_val_acc"), (TEST_SCORE, "final_test_acc")):
        values = runs[column] if column in runs else pd.Series(math.nan, index=runs.index)
        runs[score] = np.where(diverged, 0.0, pd.to_numeric(values, errors="coerce"))
    return runs


def decision_metrics(runs: pd.DataFrame) -> Metrics:
    """VALIDATION when every completed run has a final validation accuracy, else OLD_RULE."""
    completed = runs[runs["status"] == COMPLETED]
    if "final_val_acc" not in runs or completed["final_val_acc"].isna().any():
        return OLD_RULE
    return VALIDATION


TUNED_COLUMNS = ("optimizer", "optim_rest", "lr")  # a cell within a comparison set (decide.comparable.CELL)


@dataclass
class Option:
    """One tuned setting of one arm: its seeds' scores."""

    tuned: dict  # TUNED_COLUMNS -> value
    group: str
    scores: np.ndarray
    n_runs: int
    n_diverged: int

    @property
    def mean(self) -> float:
        return float(self.scores.mean()) if len(self.scores) else math.nan


@dataclass
class Choice:
    """An arm at its own best tuned setting, and every setting it was tried at (the grid, by lr)."""

    arm: str
    best: Option
    options: list = field(default_factory=list)

    @property
    def tuned(self) -> bool:
        return len(self.options) > 1


def options_of(runs: pd.DataFrame, score: str) -> list[Option]:
    """One arm's runs as Options (one per group), ordered by lr then the other tuned values."""
    options = []
    for group, rows in runs.groupby("group", sort=False):
        first = rows.iloc[0]
        options.append(Option({column: first[column] for column in TUNED_COLUMNS}, group,
                              rows[score].dropna().to_numpy(dtype=np.float64), len(rows),
                              int((rows["status"] == DIVERGED).sum())))
    return sorted(options, key=lambda option: (option.tuned["lr"], str(option.tuned["optimizer"]),
                                               str(option.tuned["optim_rest"])))


def best_option(options: list[Option]) -> Option | None:
    """The option with the best mean score over seeds; ties go to fewer diverged seeds, then the smaller lr
    (the grid's order), so the choice never depends on anything but the scores and the grid."""
    scored = [option for option in options if len(option.scores)]
    if not scored:
        return None
    return min(scored, key=lambda option: (-option.mean, option.n_diverged / option.n_runs, options.index(option)))


def choose_per_arm(runs: pd.DataFrame, score: str) -> dict[str, Choice]:
    """Per arm (norm) of one comparison set: its best tuned setting by `score` (diverged seeds = 0)."""
    choices = {}
    for arm, rows in runs.groupby("arm", sort=True):
        options = options_of(rows, score)
        best = best_option(options)
        if best is not None:
            choices[arm] = Choice(arm, best, options)
    return choices
