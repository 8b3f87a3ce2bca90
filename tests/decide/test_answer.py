"""The answer's sentences for each outcome of the race."""

from normbench.decide import racing
from normbench.decide.answer import Context, format_lr, sentences

LRS = {"layer": 3e-3, "batch": 1e-2, "group": 1e-3, "none": 1e-3}
SEEDS = {"layer": 5, "batch": 5, "group": 5, "none": 3}


def test_learning_rates_read_as_the_grid_names_them():
    assert [format_lr(lr) for lr in (1e-4, 3e-3, 0.01, 0.3, 1.0)] == ["1e-4", "3e-3", "1e-2", "0.3", "1"]


def test_a_decision_names_the_pick_its_lead_with_interval_and_the_wider_window():
    outcome = racing.race({"layer": [90.0, 91.0, 92.0, 90.5, 91.5], "batch": [86.0, 87.0, 87.5, 86.5, 87.0],
                           "none": [60.0, 61.0, 62.0]})
    windows = {"layer": (1e-3, 1e-2), "batch": (1e-3, 3e-2)}
    first, window, worse = sentences(outcome, Context(LRS, SEEDS, windows))
    gap = outcome.comparison("batch")
    assert first == (f"Use layer (lr 3e-3): +{gap.gap:.1f} pp [+{gap.low:.1f}, +{gap.high:.1f}] over batch "
                     "(its best lr 1e-2), decided after 5 seeds.")
    assert window == "batch trains in a wider LR window (1e-3…3e-2 vs 1e-3…1e-2)."
    assert worse == "none is distinguishably worse (30.0 pp behind)."


def test_equivalence_says_either_will_do_and_names_the_worse():
    outcome = racing.race({"layer": [90.0, 90.2, 89.9, 90.1, 90.05], "group": [90.1, 89.95, 90.0, 90.15, 90.0],
                           "batch": [84.0, 84.5, 83.8, 84.2, 84.1]})
    lines = sentences(outcome, Context(LRS, SEEDS, equivalence=1.0))
    assert lines[0].startswith(f"{outcome.leader} and ") and " are equivalent within 1 pp; either will do" in lines[0]
    assert lines[1].startswith("batch is distinguishably worse (5.9 pp behind)")


def test_undecided_names_the_leaders_gap_interval_and_the_budget_that_would_decide():
    outcome = racing.race({"layer": [90.0, 92.0, 88.0], "group": [89.0, 91.0, 87.5], "none": [50.0, 51.0, 50.5]},
                          at_budget=True)
    [line, worse] = sentences(outcome, Context(LRS, SEEDS, extra_budget="12 min"))
    gap = outcome.comparison("group")
    assert line == (f"Undecided after the budget: layer leads group by +{gap.gap:.1f} pp [{gap.low:+.1f}, "
                    f"{gap.high:+.1f}]; a budget of about 12 min more would likely decide it.")
    assert worse.startswith("none is distinguishably worse")
    tie = sentences(outcome, Context(LRS, SEEDS, extra_budget=None))[0]
    assert tie.endswith("more seeds are unlikely to decide it at this gap: for practical purposes they tie.")


def test_undecided_at_the_seed_cap_names_the_seeds_it_lacks_not_a_bigger_budget():
    """A race that ended at advise's most seeds per norm, with time left: more budget alone adds no seed."""
    outcome = racing.race({"layer": [90.0, 92.0, 88.0], "group": [89.0, 91.0, 87.5], "none": [50.0, 51.0, 50.5]},
                          at_budget=True)
    context = Context(LRS, SEEDS, extra_budget="2 min", seed_cap=21, extra_seeds=6)
    line = sentences(outcome, context)[0]
    assert line.startswith("Undecided after 21 seeds per norm: layer leads group by ")
    assert line.endswith("; about 6 more seeds each (about 2 min) would likely decide it, past the 21 seeds per norm "
                         "advise runs.")
    assert "a budget of about" not in line


def test_no_norm_and_one_norm_and_the_search_drops():
    none = sentences(racing.race({}), Context({}, {}, dropped={"batch": "diverged at every learning rate"}))
    assert none == ["No answer: no norm trained to a validation score (every learning rate diverged or failed).",
                    "Dropped by the search: batch (diverged at every learning rate)."]
    only = sentences(racing.race({"layer": [70.0, 71.0, 72.0], "batch": [None, None, None]}), Context(LRS, SEEDS))
    assert only == ["Use layer (lr 3e-3): the only norm left to compare, 71.0 % validation accuracy over 5 seeds.",
                    "batch diverged on every seed at the chosen learning rate."]


def test_a_window_of_one_point_and_a_chosen_lr_at_the_end_of_the_grid():
    outcome = racing.race({"layer": [90.0, 91.0, 92.0, 90.5, 91.5], "batch": [86.0, 87.0, 87.5, 86.5, 87.0]})
    lrs = {"layer": 3e-2, "batch": 1e-3}
    windows = {"layer": (3e-2, 3e-2), "batch": (1e-3, 1e-2)}
    grid = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    lines = sentences(outcome, Context(lrs, SEEDS, windows, grid=grid))
    assert lines[1] == "batch trains in a wider LR window (1e-3…1e-2 vs 3e-2 only)."
    assert lines[2] == ("At an end of the range searched (1e-4…3e-2): layer 3e-2; the best lr may lie beyond it "
                        "(widen advise.lr_range).")
    inside = sentences(outcome, Context({"layer": 3e-3, "batch": 1e-3}, SEEDS, grid=grid))
    assert not any("end of the range" in line for line in inside)


def test_undecided_with_more_open_norms_than_leaders_names_the_rest():
    scores = {"layer": [90.0, 92.0, 88.0], "group": [89.0, 91.0, 87.5], "batch": [88.0, 91.5, 86.0],
              "rms": [87.0, 92.0, 88.5], "none": [50.0, 51.0, 50.5]}
    outcome = racing.race(scores, at_budget=True)
    lines = sentences(outcome, Context(dict.fromkeys(scores, 0.001), SEEDS, extra_budget="5 min"))
    assert lines[0].startswith("Undecided after the budget: layer leads ") and lines[0].count(" pp [") == 2
    [unnamed] = [norm for norm in ("group", "batch", "rms") if norm not in outcome.leaders]
    assert lines[1] == f"Also not separated from layer: {unnamed}."
    assert lines[2].startswith("none is distinguishably worse")


def test_a_race_with_split_levels_says_what_its_intervals_are():
    scores = {"layer": [90.0, 91.0, 92.0, 90.5, 91.5], "batch": [80.0, 81.0, 79.0, 80.5, 79.5]}
    split = sentences(racing.race(scores, tests=10), Context(LRS, SEEDS))
    assert split[-1] == ("Intervals of gaps are simultaneous 95 % intervals over the race's 10 planned comparisons "
                         "(99.50 % each), so looking after every round does not raise the chance of a wrong call.")
    assert not any("simultaneous" in line for line in sentences(racing.race(scores), Context(LRS, SEEDS)))
