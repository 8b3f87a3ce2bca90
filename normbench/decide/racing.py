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

The race looks at its comparisons after every round, so its error rates are split over every comparison it may
make (Bonferroni over `tests` = planned looks × comparisons per look, `planned_tests`): each Welch interval is at
1 − 5 %/tests and each TOST at α = 5 %/tests, so the intervals are simultaneous 95 % intervals over the whole race.
Looking at 95 % each time instead, a race between two equal norms over 5 looks ends "decided" in about 1 race in 9,
and one among four equal norms calls some norm worse in about 1 in 4 (tests/decide/test_racing.py simulates both).
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


def planned_tests(norms: int, first_seeds: int, max_seeds: int, seeds_per_round: int) -> int:
    """How many comparisons a race of `norms` norms may make: one look after the first seeds and one after each
    round that `max_seeds` seeds per norm allow, each look comparing the leader with every other norm."""
    looks = 1 + max(0, max_seeds - first_seeds) // seeds_per_round
    return looks * max(1, norms - 1)


def interval_level(tests: int) -> float:
    """The confidence of each Welch interval when 95 % is split over `tests` comparisons."""
    return 1 - (1 - LEVEL) / tests


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
    tests: int = 1  # the comparisons the race's error rates are split over (`planned_tests`)

    def comparison(self, norm: str) -> Comparison:
        return next(item for item in self.comparisons if item.norm == norm)


def _difference(leader: np.ndarray, other: np.ndarray, equivalence: float, tests: int) -> tuple:
    if min(len(leader), len(other)) < 2:  # no interval from one seed: still open, never decided
        nothing = Contrast(float(leader.mean() - other.mean()), math.nan, math.nan, math.nan)
        return nothing, nothing, OPEN
    interval = welch_contrast([(leader, 1.0), (other, -1.0)], interval_level(tests))
    alpha = ALPHA / tests
    tost = welch_contrast([(leader, 1.0), (other, -1.0)], 1 - 2 * alpha)  # shown; equivalence.py decides
    if interval.low > 0:
        verdict = WORSE
    elif equivalent(leader, other, margin=equivalence, alpha=alpha):
        verdict = SAME
    else:
        verdict = OPEN
    return interval, tost, verdict


def race(scores: dict, equivalence: float = EQUIVALENCE_PP, at_budget: bool = False, tests: int = 1) -> RaceOutcome:
    """The race's state from each norm's seed scores (norm -> list of pp, at least 2 per norm to compare).

    `at_budget`: no more seeds can be added, so open comparisons make the outcome UNDECIDED, not CONTINUE.
    `tests`: the comparisons the race may make in all (`planned_tests`); 1 for a single look at two norms.
    """
    if tests < 1:
        raise ValueError(f"tests={tests}: a race makes at least one comparison")
    diverged = tuple(norm for norm, values in scores.items() if all(value is None for value in values))
    arrays = {norm: np.asarray([0.0 if value is None else value for value in values], dtype=np.float64)
              for norm, values in scores.items() if norm not in diverged}
    if not arrays:
        return RaceOutcome(NONE, None, diverged=diverged, tests=tests)
    means = {norm: float(values.mean()) for norm, values in arrays.items()}
    order = list(arrays)
    leader = max(order, key=lambda norm: (means[norm], -order.index(norm)))
    if len(arrays) == 1:
        return RaceOutcome(ONLY, leader, means=means, diverged=diverged, tests=tests)
    comparisons = []
    for norm in sorted((n for n in order if n != leader), key=lambda n: (-means[n], order.index(n))):
        interval, tost, verdict = _difference(arrays[leader], arrays[norm], equivalence, tests)
        comparisons.append(Comparison(norm, interval.estimate, interval.low, interval.high, tost.low, tost.high,
                                      verdict))
    open_ = [item.norm for item in comparisons if item.verdict == OPEN]
    same = [item.norm for item in comparisons if item.verdict == SAME]
    if not open_:
        kind = EQUIVALENT if same else DECIDED
        return RaceOutcome(kind, leader, tuple(comparisons), means=means, diverged=diverged, tests=tests)
    if not at_budget:
        return RaceOutcome(CONTINUE, leader, tuple(comparisons), contention=(leader, *open_), means=means,
                           diverged=diverged, tests=tests)
    leaders = (leader, *open_[:MAX_LEADERS - 1])
    closest = comparisons[[item.norm for item in comparisons].index(open_[0])]
    extra = extra_seeds(arrays[leader], arrays[closest.norm], equivalence, tests)
    return RaceOutcome(UNDECIDED, leader, tuple(comparisons), leaders=leaders, extra_seeds=extra, means=means,
                       diverged=diverged, tests=tests)


def seeds_to_decide(std_a: float, std_b: float, gap: float, equivalence: float, limit: int = 1000,
                    tests: int = 1) -> int | None:
    """Seeds per norm at which, with these standard deviations and this gap, the comparison would likely be decided:
    the half-width of the race's interval falls below |gap| (a lead) or its TOST half-width below
    equivalence - |gap| (equivalence), at the levels split over `tests` comparisons. None when neither happens
    within `limit` seeds (a gap of 0 with no room for equivalence)."""
    spread = math.hypot(std_a, std_b)
    if spread == 0:
        return 2
    for n in range(2, limit + 1):
        df = max(1.0, (2 * n - 2))  # Welch's df for equal n and similar spreads
        standard_error = spread / math.sqrt(n)
        lead = scipy_stats.t.ppf(0.5 + interval_level(tests) / 2, df) * standard_error < abs(gap)
        same = scipy_stats.t.ppf(1 - ALPHA / tests, df) * standard_error < equivalence - abs(gap)
        if lead or same:
            return n
    return None


def extra_seeds(leader: np.ndarray, other: np.ndarray, equivalence: float, tests: int = 1) -> int | None:
    """Seeds to add to each of the two norms, from their present spread and gap (None: no estimate)."""
    if min(len(leader), len(other)) < 2:
        return None
    needed = seeds_to_decide(float(leader.std(ddof=1)), float(other.std(ddof=1)),
                             float(leader.mean() - other.mean()), equivalence, tests=tests)
    if needed is None:
        return None
    return max(1, needed - min(len(leader), len(other)))


def summary(values) -> tuple[float, float, int]:
    """(mean, half-width of its 95 % interval, seeds) of one norm's scores, a diverged seed counting as 0."""
    ci = mean_ci([0.0 if value is None else value for value in values])
    return ci.mean, ci.half_width, ci.n
