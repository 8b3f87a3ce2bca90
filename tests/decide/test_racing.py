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
