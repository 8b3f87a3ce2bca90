"""Successive halving over learning rates, on synthetic scores."""

from normbench.decide import halving


def test_log_grid_is_two_points_per_decade_with_round_names():
    assert halving.log_grid(1e-4, 3e-2) == (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    assert halving.log_grid(1e-3, 3.0) == (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)
    assert halving.log_grid(0.01, 0.01) == (0.01,)


def test_rungs_until_one_arm_is_left():
    assert [halving.rung_count(arms) for arms in (1, 2, 3, 6, 8, 9, 10, 27)] == [0, 1, 1, 2, 2, 2, 2, 3]
    # the last rung at a third of the full budget, each earlier one a third of the next, never below the floor
    assert halving.rung_steps(900, 2, min_steps=20) == (100, 300)
    assert halving.rung_steps(90, 2, min_steps=20) == (20, 30)


def test_promote_keeps_the_best_third_by_score():
    arms = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    scores = {1e-4: 50.0, 3e-4: 61.0, 1e-3: 70.0, 3e-3: 74.0, 1e-2: 66.0, 3e-2: 40.0}
    assert halving.promote(arms, scores) == (3e-3, 1e-3)
    assert halving.promote((3e-3, 1e-3), {3e-3: 70.0, 1e-3: 72.0}) == (1e-3,)


def test_a_diverged_arm_is_dropped_at_once_even_when_few_are_left():
    arms = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)
    scores = {1e-3: None, 3e-3: None, 1e-2: None, 3e-2: None, 0.1: 55.0, 0.3: float("nan")}
    assert halving.promote(arms, scores) == (0.1,)  # keeps 2 by count, but only one did not diverge


def test_every_arm_diverged_drops_the_norm_with_its_reason():
    arms = (1e-2, 3e-2)
    rung = halving.Rung(40, arms, {1e-2: None, 3e-2: None}, halving.promote(arms, {1e-2: None, 3e-2: None}))
    assert rung.promoted == ()
    assert "diverged or failed at every learning rate" in halving.dropped_reason([rung])
    assert halving.dropped_reason([halving.Rung(40, arms, {1e-2: 3.0, 3e-2: None}, (1e-2,))]) is None


def test_ties_keep_the_grid_order():
    arms = (1e-3, 3e-3, 1e-2)
    assert halving.promote(arms, {1e-3: 80.0, 3e-3: 80.0, 1e-2: 80.0}) == (1e-3,)
