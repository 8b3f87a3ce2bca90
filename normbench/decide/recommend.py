"""Which norm to use, per comparison set (model, data, batch size, optimizer): the rule, as data.

The rule (also in docs/report.md):
0. Each norm at its own best setting: where the set varies the learning rate (or another tuned optimizer value),
   each norm is taken at its setting with the best mean validation accuracy over seeds (decide.selection).
1. Accuracy first. Each norm's score is its final validation accuracy over seeds, a diverged seed counting as 0%.
   The norm with the best mean wins only when its lead over the runner-up excludes 0 (Welch 95% interval).
2. Otherwise there is *no clear winner* among the leader and every norm whose gap to the leader is not
   distinguishable. Those shown equivalent to the leader (TOST: the 90% interval of the difference inside
   ±margin, decide.equivalence) are said to be equivalent on accuracy: a ceiling or a tie is an outcome.
3. Among the tied norms a tie-break picks one, said as a tie-break, in this order: stability (a lower share of
   diverged seeds, any difference counting; then lower loss volatility, then a lower spike rate, each only when
   the Welch interval of the difference excludes 0), then a lower final validation loss (likewise). Speed is
   shown, never decided on: steps/s measured while other jobs ran are not comparable.
4. When nothing separates them, the highest mean is named, and said to be undecided.
Test metrics never enter the rule; they are shown for what it chose. Old runs (no validation metric) fall back to
the same rule on test metrics, said in the recommendation's note.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from normbench.decide.comparable import COMPARISON, comparison_sets
from normbench.decide.equivalence import EQUIVALENCE_MARGIN, equivalent
from normbench.decide.lr_stability import stability_records
from normbench.decide.selection import FALLBACK_NOTE, VALIDATION, Choice, Metrics, choose_per_arm, decision_metrics
from normbench.decide.stats import LEVEL, welch_contrast
from normbench.decide.window import WINDOW_TOLERANCE

CLEAR, TIED, UNDECIDED, NO_DATA = "clear winner", "tie broken", "no clear winner", "no accuracy"
# (criterion, per-run column, which way is better): the stability tie-breaks, in order.
STABILITY = (("loss volatility", "loss_volatility", "lower"), ("spike rate", "spike_rate", "lower"))
# Read for the record of what was chosen, never to decide.
SHOWN_COLUMNS = ("final_test_acc", "final_test_acc_or_0", "final_test_loss", "final_val_acc", "steps_per_s",
                 "bn_eval_gap")


@dataclass
class Candidate:
    """One norm (arm) at its chosen setting: its seed values of every column the rule reads or shows."""

    variant: str
    n_runs: int
    n_diverged: int
    values: dict  # column -> np.ndarray over seeds (NaN-free)
    choice: Choice | None = None

    @property
    def divergence_share(self) -> float:
        return self.n_diverged / self.n_runs if self.n_runs else math.nan

    def mean(self, column: str) -> float:
        values = self.values.get(column, np.array([]))
        return float(values.mean()) if len(values) else math.nan

    @property
    def lr(self) -> float:
        return self.choice.best.tuned["lr"] if self.choice else math.nan


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
    equivalent: list = field(default_factory=list)  # tied norms shown equivalent to the leader (TOST)
    metrics: Metrics = VALIDATION
    margin_pp: float = EQUIVALENCE_MARGIN
    choices: dict = field(default_factory=dict)  # arm -> selection.Choice (every arm, its grid)
    stability: dict = field(default_factory=dict)  # arm -> lr_stability.LRStability (window, divergence, E[max])

    @property
    def note(self) -> str:
        return "" if self.metrics.on_validation else FALLBACK_NOTE

    @property
    def statement(self) -> str:
        if self.decision == NO_DATA:
            return f"no norm has a final {self.metrics.split} accuracy"
        if self.decision == CLEAR:
            return f"use {self.norm}: its lead over {self.runner_up} excludes 0" if self.runner_up else \
                f"use {self.norm}: the only norm run"
        among = f"no clear winner among {', '.join(self.tied)}"
        if len(self.equivalent) > 1:
            among += (f" ({', '.join(self.equivalent)} equivalent on accuracy: the 90% interval of the difference "
                      f"within ±{self.margin_pp * 100:g} pp)")
        if self.decision == TIED:
            return f"{among}; tie-break by {self.decided_by}: {self.norm}"
        if len(self.left) < len(self.tied):
            return (f"{among}; the tie-break (stability, then {self.metrics.split} loss) leaves "
                    f"{', '.join(self.left)} and separates them no further ({self.norm} has the highest mean of them)")
        return f"{among}; no tie-break separates them ({self.norm} has the highest mean)"


# --- the rule --------------------------------------------------------------------------------------------

def distinguishable(better: np.ndarray, worse: np.ndarray, level: float = LEVEL) -> bool:
    """Whether mean(better) − mean(worse) has a Welch interval above 0 (False when either has < 2 values)."""
    if len(better) < 2 or len(worse) < 2:
        return False
    return welch_contrast([(better, 1.0), (worse, -1.0)], level).low > 0


def ranked(candidates: list[Candidate], score: str) -> list[Candidate]:
    """Candidates with a score, best mean first (ties in the mean by name, for a stable order)."""
    scored = [candidate for candidate in candidates if len(candidate.values.get(score, ()))]
    return sorted(scored, key=lambda candidate: (-candidate.mean(score), candidate.variant))


def tied_with_leader(order: list[Candidate], score: str, level: float = LEVEL) -> list[Candidate]:
    """The leader and every candidate whose gap to it is not distinguishable."""
    leader = order[0]
    return [leader] + [other for other in order[1:]
                       if not distinguishable(leader.values[score], other.values[score], level)]


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


def break_tie(tied: list[Candidate], metrics: Metrics = VALIDATION,
              level: float = LEVEL) -> tuple[Candidate, str, list[Candidate]]:
    """(the pick, the criterion that decided or "" if none did, the candidates no criterion set apart):
    stability first, then the final loss on the deciding split. Undecided, the pick is the highest mean."""
    remaining = least_diverged(tied)
    if len(remaining) == 1:
        return remaining[0], "stability: divergence share", remaining
    criteria = [(f"stability: {name}", column, better) for name, column, better in STABILITY]
    criteria.append((f"{metrics.split} loss", metrics.loss, "lower"))
    for name, column, better in criteria:
        remaining = survivors(remaining, column, better, level)
        if len(remaining) == 1:
            return remaining[0], name, remaining
    return remaining[0], "", remaining  # `remaining` keeps the ranked order: its first has the highest mean


def recommend(setting: dict, label: str, candidates: list[Candidate], level: float = LEVEL,
              metrics: Metrics = VALIDATION, margin: float = EQUIVALENCE_MARGIN) -> Recommendation:
    """The recommendation for one comparison set's candidates (each norm at its chosen setting)."""
    score = metrics.score
    order = ranked(candidates, score)
    if not order:
        return Recommendation(setting, label, NO_DATA, None, candidates=candidates, metrics=metrics, margin_pp=margin)
    leader = order[0]
    tied = tied_with_leader(order, score, level)
    left = []
    if len(tied) == 1:
        decision, pick, decided_by = CLEAR, leader, "accuracy"
    else:
        pick, decided_by, left = break_tie(tied, metrics, level)
        decision = TIED if decided_by else UNDECIDED
    runner_up = next((candidate for candidate in order if candidate is not pick), None)
    same = [leader.variant] + [other.variant for other in tied[1:]
                               if equivalent(leader.values[score], other.values[score], margin)]
    recommendation = Recommendation(setting, label, decision, pick.variant,
                                    [candidate.variant for candidate in tied] if len(tied) > 1 else [],
                                    decided_by, runner_up.variant if runner_up else None, pick=pick,
                                    candidates=order, left=[candidate.variant for candidate in left],
                                    equivalent=same if len(same) > 1 else [], metrics=metrics, margin_pp=margin)
    if runner_up is not None:
        recommendation.margin = pick.mean(score) - runner_up.mean(score)
        if len(pick.values[score]) >= 2 and len(runner_up.values[score]) >= 2:
            contrast = welch_contrast([(pick.values[score], 1.0), (runner_up.values[score], -1.0)], level)
            recommendation.margin_low, recommendation.margin_high = contrast.low, contrast.high
    return recommendation


# --- over a runs table -----------------------------------------------------------------------------------

def candidate_of(choice: Choice, runs: pd.DataFrame, metrics: Metrics) -> Candidate:
    """The chosen group's runs as a candidate, with every column the rule reads and the report shows."""
    rows = runs[runs["group"] == choice.best.group]
    columns = (metrics.score, metrics.loss, *(column for _, column, _ in STABILITY), *SHOWN_COLUMNS)
    values = {column: rows[column].dropna().to_numpy(dtype=np.float64) for column in dict.fromkeys(columns)
              if column in rows}
    return Candidate(choice.arm, choice.best.n_runs, choice.best.n_diverged, values, choice)


def recommend_set(setting: dict, label: str, runs: pd.DataFrame, level: float = LEVEL,
                  margin: float = EQUIVALENCE_MARGIN, tolerance: float = WINDOW_TOLERANCE) -> Recommendation:
    """One comparison set's recommendation from its usable runs (columns: group, arm, status, the tuned columns,
    the scores of selection.add_scores and the per-run stability metrics), with every norm's stability record
    across learning rates."""
    metrics = decision_metrics(runs)
    choices = choose_per_arm(runs, metrics.score)
    candidates = [candidate_of(choice, runs, metrics) for choice in choices.values()]
    recommendation = recommend(setting, label, candidates, level, metrics, margin)
    recommendation.choices = choices
    recommendation.stability = stability_records(choices, tolerance)
    return recommendation


def recommend_all(usable: pd.DataFrame, describe=None, level: float = LEVEL, margin: float = EQUIVALENCE_MARGIN,
                  tolerance: float = WINDOW_TOLERANCE) -> list[Recommendation]:
    """One recommendation per comparison set (decide.comparable.COMPARISON) of `usable`; `describe(values, rows)`
    names a set (default: its values joined)."""
    name = describe or (lambda values, _: " · ".join(str(values[key]) for key in COMPARISON if values[key] != ""))
    return [recommend_set(values, name(values, rows), rows, level, margin, tolerance)
            for values, rows in comparison_sets(usable)]
