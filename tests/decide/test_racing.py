"""The race between norms on synthetic seed scores (pp of validation accuracy)."""

import pytest

from normbench.decide import racing

LEADER = [90.0, 91.0, 92.0, 90.5, 91.5]


def test_a_clear_lead_over_every_norm_is_decided():
    outcome = racing.race({"batch": [80.0, 81.0, 79.0, 80.5, 79.5], "layer": LEADER, "none": [60.0, 62.0, 61.0]})
    assert outcome.kind == racing.DECIDED and outcome.leader == "layer"
    assert [item.norm for item in outcome.comparisons] == ["batch", "none"]  # closest first
    assert all(item.verdict == racing.WORSE and item.low > 0 for item in outcome.comparisons)
    assert outcome.comparison("batch").gap == pytest.approx(11.0)


def test_norms_within_the_margin_are_equivalent_and_a_worse_one_is_named():
    outcome = racing.race({"layer": [90.0, 90.2, 89.9, 90.1, 90.05], "group": [90.1, 89.95, 90.0, 90.15, 90.0],
                           "batch": [84.0, 84.5, 83.8, 84.2, 84.1]})
    assert outcome.kind == racing.EQUIVALENT and outcome.leader in ("layer", "group")
    verdicts = {item.norm: item.verdict for item in outcome.comparisons}
    assert verdicts["batch"] == racing.WORSE and list(verdicts.values()).count(racing.SAME) == 1
    # the same scores with a margin of 0.01 pp are no longer equivalent: seeds would be added
    assert racing.race({"layer": [90.0, 90.2, 89.9], "group": [90.1, 89.95, 90.0]}, equivalence=0.01).kind == \
        racing.CONTINUE


def test_open_comparisons_add_seeds_only_to_the_norms_in_contention():
    scores = {"layer": [90.0, 92.0, 88.0], "group": [89.0, 91.0, 87.5], "none": [50.0, 51.0, 50.5]}
    outcome = racing.race(scores)
    assert outcome.kind == racing.CONTINUE and outcome.contention == ("layer", "group")


def test_undecided_at_budget_names_the_leaders_gap_interval_and_seeds_needed():
    scores = {"layer": [90.0, 92.0, 88.0], "group": [89.0, 91.0, 87.5], "batch": [88.0, 91.5, 86.0],
              "instance": [87.0, 92.0, 88.5], "none": [50.0, 51.0, 50.5]}
    outcome = racing.race(scores, at_budget=True)
    assert outcome.kind == racing.UNDECIDED and outcome.leaders[0] == "layer"
    assert len(outcome.leaders) == racing.MAX_LEADERS and "none" not in outcome.leaders
    closest = outcome.comparison(outcome.leaders[1])
    assert closest.low < 0 < closest.high
    assert outcome.extra_seeds is not None and outcome.extra_seeds >= 1
    assert outcome.comparison("none").verdict == racing.WORSE


def test_seeds_to_decide_shrink_with_the_spread_and_grow_as_the_gap_closes():
    assert racing.seeds_to_decide(1.0, 1.0, 3.0, 1.0) < racing.seeds_to_decide(2.0, 2.0, 3.0, 1.0)
    assert racing.seeds_to_decide(1.0, 1.0, 3.0, 1.0) < racing.seeds_to_decide(1.0, 1.0, 1.5, 0.1)
    assert racing.seeds_to_decide(5.0, 5.0, 1.0, 1.0, limit=10) is None  # gap = margin: neither within 10 seeds


def test_all_diverged_is_no_answer_and_one_norm_is_the_only_one():
    diverged = racing.race({"batch": [None, None, None], "layer": [None, None, None]})
    assert diverged.kind == racing.NONE and diverged.leader is None and diverged.diverged == ("batch", "layer")
    only = racing.race({"layer": [70.0, 71.0, 72.0], "batch": [None, None, None]})
    assert only.kind == racing.ONLY and only.leader == "layer" and only.diverged == ("batch",)


def test_a_diverged_seed_counts_as_zero():
    outcome = racing.race({"batch": [95.0, 95.5, None, 95.2], "layer": [90.0, 90.5, 90.2, 90.1]})
    assert outcome.leader == "layer" and outcome.means["batch"] == pytest.approx((95.0 + 95.5 + 95.2) / 4)


def _simulated_race(rng, means, tests, first=3, per_round=2, max_seeds=11, spread=1.0):
    """A race run as advise runs it (decide/racing.py's rule), on normal scores with these true means."""
    scores = {f"norm{index}": list(rng.normal(mean, spread, first)) for index, mean in enumerate(means)}
    seeds = first
    while True:
        at_budget = seeds + per_round > max_seeds
        outcome = racing.race(scores, equivalence=1.0, at_budget=at_budget, tests=tests)
        if outcome.kind != racing.CONTINUE:
            return outcome
        for norm in outcome.contention:
            scores[norm] += list(rng.normal(means[int(norm[4:])], spread, per_round))
        seeds += per_round


@pytest.mark.parametrize("norms", [2, 4])
def test_equal_norms_are_called_different_in_at_most_5_percent_of_races_despite_repeated_looks(norms):
    import numpy as np

    def wrong_calls(tests: int) -> float:
        rng = np.random.default_rng(norms)
        races = [_simulated_race(rng, [0.0] * norms, tests) for _ in range(300)]
        return np.mean([any(item.verdict == racing.WORSE for item in race.comparisons) for race in races])

    split = racing.planned_tests(norms, first_seeds=3, max_seeds=11, seeds_per_round=2)
    assert split == 5 * (norms - 1)  # looks after 3, 5, 7, 9 and 11 seeds, the leader against each other norm
    assert wrong_calls(split) <= 0.05
    assert wrong_calls(1) > 0.08  # 95 % at every look, unsplit: the rate the split keeps down


def test_a_real_gap_is_still_found_with_the_split_levels():
    import numpy as np

    rng = np.random.default_rng(7)
    tests = racing.planned_tests(2, first_seeds=3, max_seeds=11, seeds_per_round=2)
    races = [_simulated_race(rng, [0.0, 2.0], tests) for _ in range(100)]  # a gap of 2 spreads
    assert np.mean([race.kind == racing.DECIDED and race.leader == "norm1" for race in races]) > 0.9
    assert all(race.tests == tests for race in races)


def test_the_split_widens_the_interval_and_names_its_level():
    scores = {"layer": [90.0, 91.0, 92.0, 90.5, 91.5], "group": [88.0, 89.5, 90.0, 88.5, 89.0]}
    single, split = racing.race(scores), racing.race(scores, tests=20)
    assert split.comparisons[0].low < single.comparisons[0].low
    assert split.comparisons[0].high > single.comparisons[0].high
    assert racing.interval_level(20) == pytest.approx(0.9975)
    with pytest.raises(ValueError):
        racing.race(scores, tests=0)
