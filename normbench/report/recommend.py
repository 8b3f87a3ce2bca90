"""Which norm to use, per setting (model, data, batch size, optimizer and learning rate): the rule, as data.

The rule (also in docs/report.md):
1. Accuracy first. Each norm's score is its final test accuracy over seeds, a diverged seed counting as 0%
   (it produced no usable model: dropping it would reward a norm for failing). The norm with the best mean
   wins only when its lead over the runner-up excludes 0 (Welch 95% interval over seeds).
2. Otherwise there is *no clear winner* among the leader and every norm whose gap to the leader is not
   distinguishable (its Welch interval includes 0, or a group has fewer than two seeds).
3. Among those tied norms a tie-break picks one, said as a tie-break, in this order:
   stability: a lower share of diverged seeds (any difference counts: divergence is the worst outcome a user
   can meet), then lower loss volatility, then a lower spike rate (each only when the Welch interval of the
   difference excludes 0); then cost: more steps/s (Welch, likewise). Each criterion drops the tied norms
   distinguishably worse than the best on it; the first that leaves one norm decides.
4. When nothing separates them, the highest mean is named, and said to be undecided.
So a norm with a diverged seed can beat one with none only by an accuracy lead that excludes 0 even with
its diverged seeds scored 0.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from normbench.report.groups import SETTING, describe, settings
from normbench.decide.stats import LEVEL, mean_ci, welch_contrast

SCORE = "final_test_acc_or_0"  # the accuracy a norm is judged by: diverged seeds count as 0
CLEAR, TIED, UNDECIDED, NO_DATA = "clear winner", "tie broken", "no clear winner", "no accuracy"
# (criterion, per-run column, which way is better): the tie-break's order.
STABILITY = (("loss volatility", "loss_volatility", "lower"), ("spike rate", "spike_rate", "lower"))
COST = ("cost: steps/s", "steps_per_s", "higher")


@dataclass
class Candidate:
    """One norm (one configuration) in a setting: its seed values of every column the rule reads."""

    variant: str
    n_runs: int
    n_diverged: int
    values: dict  # column -> np.ndarray over seeds (NaN-free)
    row: dict  # the group's row of groups.group_table (means of every metric)

    @property
    def divergence_share(self) -> float:
        return self.n_diverged / self.n_runs if self.n_runs else math.nan

    def mean(self, column: str) -> float:
        values = self.values.get(column, np.array([]))
        return float(values.mean()) if len(values) else math.nan


@dataclass
class Recommendation:
    setting: dict
    label: str  # the setting in words
    decision: str  # CLEAR, TIED, UNDECIDED or NO_DATA
    norm: str | None  # the norm to use (None: no norm has an accuracy)
    tied: list = field(default_factory=list)  # the norms not distinguishable from the leader (decision != CLEAR)
    decided_by: str = ""  # "accuracy", the tie-break criterion, or "" when undecided
    runner_up: str | None = None
    margin: float = math.nan  # mean score of the pick − the runner-up's, with its Welch interval
    margin_low: float = math.nan
    margin_high: float = math.nan
    pick: Candidate | None = None
    candidates: list = field(default_factory=list)  # ranked by mean score, best first
    left: list = field(default_factory=list)  # undecided: the tied norms the tie-break could not set apart

    @property
    def statement(self) -> str:
        if self.decision == NO_DATA:
            return "no norm has a final test accuracy"
        if self.decision == CLEAR:
            return f"use {self.norm}: its lead over {self.runner_up} excludes 0" if self.runner_up else \
                f"use {self.norm}: the only norm run"
        among = f"no clear winner among {', '.join(self.tied)}"
        if self.decision == TIED:
            return f"{among}; tie-break by {self.decided_by}: {self.norm}"
        if len(self.left) < len(self.tied):
            return (f"{among}; the tie-break (stability, then cost) leaves {', '.join(self.left)} and separates "
                    f"them no further ({self.norm} has the highest mean of them)")
        return f"{among}; no tie-break separates them ({self.norm} has the highest mean)"


# --- the rule --------------------------------------------------------------------------------------------

def distinguishable(better: np.ndarray, worse: np.ndarray, level: float = LEVEL) -> bool:
    """Whether mean(better) − mean(worse) has a Welch interval above 0 (False when either has < 2 values)."""
    if len(better) < 2 or len(worse) < 2:
        return False
    return welch_contrast([(better, 1.0), (worse, -1.0)], level).low > 0


def ranked(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates with a score, best mean first (ties in the mean by name, for a stable order)."""
    scored = [candidate for candidate in candidates if len(candidate.values.get(SCORE, ()))]
    return sorted(scored, key=lambda candidate: (-candidate.mean(SCORE), candidate.variant))


def tied_with_leader(order: list[Candidate], level: float = LEVEL) -> list[Candidate]:
    """The leader and every candidate whose gap to it is not distinguishable."""
    leader = order[0]
    return [leader] + [other for other in order[1:]
                       if not distinguishable(leader.values[SCORE], other.values[SCORE], level)]


def survivors(tied: list[Candidate], column: str, better: str, level: float = LEVEL) -> list[Candidate]:
    """The tied candidates not distinguishably worse on `column` than the best of them on it."""
    sign = 1.0 if better == "higher" else -1.0
    with_values = [candidate for candidate in tied if len(candidate.values.get(column, ()))]
    if len(with_values) < len(tied) or not with_values:
        return tied  # a criterion some candidate lacks cannot separate them
    best = max(with_values, key=lambda candidate: sign * candidate.mean(column))
    return [candidate for candidate in tied
            if candidate is best or not distinguishable(sign * best.values[column], sign * candidate.values[column],
                                                        level)]


def least_diverged(tied: list[Candidate]) -> list[Candidate]:
    """The tied candidates with the lowest divergence share (any difference counts)."""
    lowest = min(candidate.divergence_share for candidate in tied)
    return [candidate for candidate in tied if candidate.divergence_share == lowest]


def break_tie(tied: list[Candidate], level: float = LEVEL) -> tuple[Candidate, str, list[Candidate]]:
    """(the pick, the criterion that decided or "" if none did, the candidates no criterion set apart):
    stability first, then cost. Undecided, the pick is the highest mean of those left."""
    remaining = least_diverged(tied)
    if len(remaining) == 1:
        return remaining[0], "stability: divergence share", remaining
    for name, column, better in (*STABILITY, COST):
        remaining = survivors(remaining, column, better, level)
        if len(remaining) == 1:
            prefix = "" if name.startswith("cost") else "stability: "
            return remaining[0], prefix + name, remaining
    return remaining[0], "", remaining  # `remaining` keeps the ranked order: its first has the highest mean


def recommend(setting: dict, label: str, candidates: list[Candidate], level: float = LEVEL) -> Recommendation:
    """The recommendation for one setting's candidates."""
    order = ranked(candidates)
    if not order:
        return Recommendation(setting, label, NO_DATA, None, candidates=candidates)
    leader = order[0]
    tied = tied_with_leader(order, level)
    left = []
    if len(tied) == 1:
        decision, pick, decided_by = CLEAR, leader, "accuracy"
    else:
        pick, decided_by, left = break_tie(tied, level)
        decision = TIED if decided_by else UNDECIDED
    runner_up = next((candidate for candidate in order if candidate is not pick), None)
    recommendation = Recommendation(setting, label, decision, pick.variant,
                                    [candidate.variant for candidate in tied] if len(tied) > 1 else [],
                                    decided_by, runner_up.variant if runner_up else None, pick=pick,
                                    candidates=order, left=[candidate.variant for candidate in left])
    if runner_up is not None:
        recommendation.margin = pick.mean(SCORE) - runner_up.mean(SCORE)
        if len(pick.values[SCORE]) >= 2 and len(runner_up.values[SCORE]) >= 2:
            contrast = welch_contrast([(pick.values[SCORE], 1.0), (runner_up.values[SCORE], -1.0)], level)
            recommendation.margin_low, recommendation.margin_high = contrast.low, contrast.high
    return recommendation


# --- from the report's tables ----------------------------------------------------------------------------

RULE_COLUMNS = (SCORE, "final_test_acc", "loss_volatility", "spike_rate", "steps_per_s", "bn_eval_gap")


def candidates_of(rows: pd.DataFrame, usable: pd.DataFrame) -> list[Candidate]:
    """The setting's groups (rows of group_table) as candidates, with their runs' seed values."""
    by_group = dict(tuple(usable.groupby("group", sort=False)))
    result = []
    for row in rows.to_dict("records"):
        runs = by_group[row["group"]]
        values = {column: runs[column].dropna().to_numpy(dtype=np.float64)
                  for column in RULE_COLUMNS if column in runs}
        result.append(Candidate(row["variant"], int(row["n_runs"]), int(row["n_diverged"]), values, row))
    return result


def recommendations(groups: pd.DataFrame, usable: pd.DataFrame, level: float = LEVEL) -> list[Recommendation]:
    """One recommendation per setting (experiment, model, data, batch size, optimizer, learning rate)."""
    if groups.empty:
        return []
    shown = [column for column in SETTING if column != "experiment" or usable["experiment"].nunique() > 1]
    return [recommend(values, describe(values, shown), candidates_of(rows, usable), level)
            for values, rows in settings(groups)]


def recommendations_frame(recommendations_: list[Recommendation]) -> pd.DataFrame:
    """recommendations.csv: one row per setting, fractions as fractions (accuracy 0–1), intervals unclipped."""
    rows = []
    for rec in recommendations_:
        pick = rec.pick
        acc = mean_ci(pick.values[SCORE]) if pick else None
        rows.append({
            **rec.setting, "norm": rec.norm, "decision": rec.decision, "statement": rec.statement,
            "decided_by": rec.decided_by, "tied": ", ".join(rec.tied),
            "test_acc": acc.mean if acc else math.nan, "test_acc_ci_low": acc.low if acc else math.nan,
            "test_acc_ci_high": acc.high if acc else math.nan, "seeds": acc.n if acc else 0,
            "runner_up": rec.runner_up, "margin": rec.margin, "margin_ci_low": rec.margin_low,
            "margin_ci_high": rec.margin_high,
            "divergence_share": pick.divergence_share if pick else math.nan,
            "loss_volatility": pick.mean("loss_volatility") if pick else math.nan,
            "spike_rate": pick.mean("spike_rate") if pick else math.nan,
            "seed_std_test_acc": pick.row.get("seed_std_test_acc", math.nan) if pick else math.nan,
            "bn_eval_gap": pick.mean("bn_eval_gap") if pick else math.nan,
            "steps_per_s": pick.mean("steps_per_s") if pick else math.nan,
            "relative_speed": relative_speed(rec),
        })
    return pd.DataFrame(rows, columns=[*SETTING, "norm", "decision", "statement", "decided_by", "tied", "test_acc",
                                       "test_acc_ci_low", "test_acc_ci_high", "seeds", "runner_up", "margin",
                                       "margin_ci_low", "margin_ci_high", "divergence_share", "loss_volatility",
                                       "spike_rate", "seed_std_test_acc", "bn_eval_gap", "steps_per_s",
                                       "relative_speed"])


def relative_speed(rec: Recommendation) -> float:
    """The pick's steps/s over the fastest candidate's in its setting (1 = the fastest)."""
    speeds = [candidate.mean("steps_per_s") for candidate in rec.candidates]
    fastest = max((speed for speed in speeds if np.isfinite(speed)), default=math.nan)
    if rec.pick is None or not np.isfinite(fastest) or fastest <= 0:
        return math.nan
    return rec.pick.mean("steps_per_s") / fastest
