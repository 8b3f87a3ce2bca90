"""The race between norms, each at its chosen learning rate, over seeds never used to choose anything.

Scores are validation accuracies in percentage points, one per seed (a diverged seed counts as 0, as in the
recommendation rule). The leader is the norm with the highest mean; against each other norm:
- distinguishably worse: the Welch interval (95 %) of leader − other lies above 0;
- equivalent: the 90 % interval of the difference (two one-sided tests at α = 5 %, Schuirmann's TOST) lies
  inside ±equivalence pp;
- otherwise still in contention.
Outcomes: `decided` (every other norm distinguishably worse), `equivalent` (those not worse are equivalent to
the leader), `continue` (seeds go to the leader and the norms in contention, and only to them), `undecided`
(the budget is spent while some are in contention: the leaders, their gaps and the seeds that would likely
decide), `only` (one norm left), `none` (no norm has a score). A norm whose every seed diverged is left out of
the comparisons and named in `diverged`.
"""

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats

from normbench.decide.equivalence import ALPHA, EQUIVALENCE_MARGIN, equivalent
from normbench.decide.stats import LEVEL, Contrast, mean_ci, welch_contrast

EQUIVALENCE_PP = 100 * EQUIVALENCE_MARGIN  # the report's margin (a fraction of accuracy) in the race's unit, pp
MAX_LEADERS = 3
DECIDED, EQUIVALENT, CONTINUE, UNDECIDED, ONLY, NONE = "decided", "equivalent", "continue", "undecided", "only", "none"
WORSE, SAME, OPEN = "worse", "equivalent", "in contention"


@dataclass(frozen=True)
class Comparison:
    norm: str
    gap: float  # mean(leader) - mean(norm), pp
    low: float  # its 95 % Welch interval
    high: float
    tost_low: float  # its 90 % interval, for equivalence
    tost_high: float
    verdict: str  # WORSE, SAME or OPEN


@dataclass(frozen=True)
class RaceOutcome:
    kind: str
    leader: str | None
    comparisons: tuple = ()  # the leader against each other norm, closest first
    contention: tuple = ()  # the norms that get more seeds (kind CONTINUE), the leader first
    leaders: tuple = ()  # kind UNDECIDED: at most MAX_LEADERS norms still open, the leader first
    extra_seeds: int | None = None  # kind UNDECIDED: seeds per open norm that would likely decide; None: no estimate
    means: dict = field(default_factory=dict)  # norm -> mean score (pp)
    diverged: tuple = ()  # norms left out: every seed diverged or failed

    def comparison(self, norm: str) -> Comparison:
        return next(item for item in self.comparisons if item.norm == norm)


def _difference(leader: np.ndarray, other: np.ndarray, equivalence: float) -> tuple:
    if min(len(leader), len(other)) < 2:  # no interval from one seed: still open, never decided
        nothing = Contrast(float(leader.mean() - other.mean()), math.nan, math.nan, math.nan)
        return nothing, nothing, OPEN
    interval = welch_contrast([(leader, 1.0), (other, -1.0)], LEVEL)
    tost = welch_contrast([(leader, 1.0), (other, -1.0)], 1 - 2 * ALPHA)  # shown; equivalence.py decides
    if interval.low > 0:
        verdict = WORSE
    elif equivalent(leader, other, margin=equivalence):
        verdict = SAME
    else:
        verdict = OPEN
    return interval, tost, verdict


def race(scores: dict, equivalence: float = EQUIVALENCE_PP, at_budget: bool = False) -> RaceOutcome:
    """The race's state from each norm's seed scores (norm -> list of pp, at least 2 per norm to compare).

    `at_budget`: no more seeds can be added, so open comparisons make the outcome UNDECIDED, not CONTINUE.
    """
    diverged = tuple(norm for norm, values in scores.items() if all(value is None for value in values))
    arrays = {norm: np.asarray([0.0 if value is None else value for value in values], dtype=np.float64)
              for norm, values in scores.items() if norm not in diverged}
    if not arrays:
        return RaceOutcome(NONE, None, diverged=diverged)
    means = {norm: float(values.mean()) for norm, values in arrays.items()}
    order = list(arrays)
    leader = max(order, key=lambda norm: (means[norm], -order.index(norm)))
    if len(arrays) == 1:
        return RaceOutcome(ONLY, leader, means=means, diverged=diverged)
    comparisons = []
    for norm in sorted((n for n in order if n != leader), key=lambda n: (-means[n], order.index(n))):
        interval, tost, verdict = _difference(arrays[leader], arrays[norm], equivalence)
        comparisons.append(Comparison(norm, interval.estimate, interval.low, interval.high, tost.low, tost.high,
                                      verdict))
    open_ = [item.norm for item in comparisons if item.verdict == OPEN]
    same = [item.norm for item in comparisons if item.verdict == SAME]
    if not open_:
        kind = EQUIVALENT if same else DECIDED
        return RaceOutcome(kind, leader, tuple(comparisons), means=means, diverged=diverged)
    if not at_budget:
        return RaceOutcome(CONTINUE, leader, tuple(comparisons), contention=(leader, *open_), means=means,
                           diverged=diverged)
    leaders = (leader, *open_[:MAX_LEADERS - 1])
    closest = comparisons[[item.norm for item in comparisons].index(open_[0])]
    extra = extra_seeds(arrays[leader], arrays[closest.norm], equivalence)
    return RaceOutcome(UNDECIDED, leader, tuple(comparisons), leaders=leaders, extra_seeds=extra, means=means,
                       diverged=diverged)


def seeds_to_decide(std_a: float, std_b: float, gap: float, equivalence: float, limit: int = 1000) -> int | None:
    """Seeds per norm at which, with these standard deviations and this gap, the comparison would likely be decided:
    the 95 % half-width falls below |gap| (a lead) or the 90 % half-width below equivalence - |gap| (equivalence).
    None when neither happens within `limit` seeds (a gap of 0 with no room for equivalence)."""
    spread = math.hypot(std_a, std_b)
    if spread == 0:
        return 2
    for n in range(2, limit + 1):
        df = max(1.0, (2 * n - 2))  # Welch's df for equal n and similar spreads
        standard_error = spread / math.sqrt(n)
        lead = scipy_stats.t.ppf(0.5 + LEVEL / 2, df) * standard_error < abs(gap)
        same = scipy_stats.t.ppf(1 - ALPHA, df) * standard_error < equivalence - abs(gap)
        if lead or same:
            return n
    return None


def extra_seeds(leader: np.ndarray, other: np.ndarray, equivalence: float) -> int | None:
    """Seeds to add to each of the two norms, from their present spread and gap (None: no estimate)."""
    if min(len(leader), len(other)) < 2:
        return None
    needed = seeds_to_decide(float(leader.std(ddof=1)), float(other.std(ddof=1)),
                             float(leader.mean() - other.mean()), equivalence)
    if needed is None:
        return None
    return max(1, needed - min(len(leader), len(other)))


def summary(values) -> tuple[float, float, int]:
    """(mean, half-width of its 95 % interval, seeds) of one norm's scores, a diverged seed counting as 0."""
    ci = mean_ci([0.0 if value is None else value for value in values])
    return ci.mean, ci.half_width, ci.n
