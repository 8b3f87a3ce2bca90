"""The recommendation rule on run sets built so each answer is known: a clear winner, ties broken by stability,
speed never deciding, a tie left undecided, diverged seeds; and how tables show intervals and best values."""

import numpy as np
import pytest

from normbench.report import sections
from normbench.report.groups import group_table, usable_runs
from normbench.report.load import load_runs
from normbench.report.recommend import CLEAR, TIED, UNDECIDED, recommendations, recommendations_frame
from normbench.report.run_metrics import add_run_metrics
from tests.report.synthetic import flat_curves


def _recommend(root):
    loaded = load_runs([root])
    usable = usable_runs(add_run_metrics(loaded.runs, loaded.curves, 2.0, 50))
    return recommendations(group_table(usable), usable)


def _seeds(make_run, root, norm, accuracies, **fields):
    for seed, acc in enumerate(accuracies):
        make_run(root, norm=norm, seed=seed, test_acc=acc, **fields)


def _wobbly(amplitude: float, steps: int = 200) -> dict:
    """Flat curves whose train loss alternates by a factor e^(±amplitude): loss volatility ≈ 2·amplitude,
    no spikes (the factor stays far below 2× the median)."""
    curves = flat_curves(steps)
    t = np.arange(1, steps + 1)
    curves["train/loss"] = (t, np.exp(amplitude * (-1.0) ** t))
    return curves


def test_clear_winner_when_its_lead_excludes_zero(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, "batch", [0.90, 0.91, 0.92])
    _seeds(make_run, root, "layer", [0.80, 0.81, 0.82])
    _seeds(make_run, root, "none", [0.50, 0.55, 0.60])
    [rec] = _recommend(root)
    assert (rec.decision, rec.norm, rec.runner_up, rec.decided_by) == (CLEAR, "batch", "layer", "accuracy")
    assert rec.margin == pytest.approx(0.10)
    assert 0 < rec.margin_low < 0.10 < rec.margin_high
    assert rec.statement == "use batch: its lead over layer excludes 0"


def test_tie_broken_by_stability(tmp_path, make_run):
    root = tmp_path / "results"
    # batch has the higher mean, but the intervals overlap; its loss is volatile, layer's is flat.
    for seed, (acc, wobble) in enumerate([(0.80, 0.10), (0.85, 0.11), (0.90, 0.12)]):
        make_run(root, norm="batch", seed=seed, test_acc=acc, curves=_wobbly(wobble))
    _seeds(make_run, root, "layer", [0.82, 0.84, 0.86])
    [rec] = _recommend(root)
    assert (rec.decision, rec.norm, rec.decided_by) == (TIED, "layer", "stability: loss volatility")
    assert rec.tied == ["batch", "layer"]
    assert rec.statement == "no clear winner among batch, layer; tie-break by stability: loss volatility: layer"
    assert rec.margin < 0  # the pick trails the runner-up's mean: said, not hidden


def test_diverged_seeds_count_as_zero_and_lose_a_tie(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, "batch", [0.95, 0.95, 0.95])
    make_run(root, norm="batch", seed=3, status="diverged", diverged_step=50)
    _seeds(make_run, root, "layer", [0.84, 0.85, 0.86])
    [rec] = _recommend(root)
    batch = next(candidate for candidate in rec.candidates if candidate.variant == "batch")
    assert batch.mean("final_test_acc_or_0") == pytest.approx(0.95 * 3 / 4)  # the diverged seed scores 0
    assert (rec.decision, rec.norm, rec.decided_by) == (TIED, "layer", "stability: divergence share")


def test_speed_never_decides_even_rescaled_a_hundredfold(tmp_path, make_run):
    # Tied on accuracy, equal on stability: steps/s measured under load (here 100× apart) must not pick one.
    for name, factor in (("even", 1.0), ("slow", 0.01), ("fast", 100.0)):
        for norm, speed in (("batch", 1000.0 * factor), ("layer", 1000.0)):
            for seed, (acc, jitter) in enumerate([(0.80, -5), (0.85, 0), (0.90, 5)]):
                make_run(tmp_path / name, norm=norm, seed=seed, test_acc=acc, steps_per_s=speed + jitter)
    answers = {name: _recommend(tmp_path / name)[0] for name in ("even", "slow", "fast")}
    assert {(rec.decision, rec.norm, rec.decided_by) for rec in answers.values()} == {(UNDECIDED, "batch", "")}
    rec = answers["slow"]
    assert rec.statement.startswith("no clear winner among batch, layer; no tie-break separates them")
    frame = recommendations_frame([rec])
    assert frame.loc[0, "decision"] == UNDECIDED and frame.loc[0, "tied"] == "batch, layer"


def test_one_recommendation_per_batch_size(tmp_path, make_run):
    root = tmp_path / "results"
    for batch_size, (good, bad) in ((4, ("layer", "batch")), (64, ("batch", "layer"))):
        _seeds(make_run, root, good, [0.90, 0.91, 0.92], batch_size=batch_size)
        _seeds(make_run, root, bad, [0.70, 0.71, 0.72], batch_size=batch_size)
    picks = {rec.setting["batch_size"]: rec.norm for rec in _recommend(root)}
    assert picks == {4: "layer", 64: "batch"}


def test_intervals_are_clipped_to_the_metric_range():
    # 95 ± 10 % would reach 105%: shown clipped and marked.
    assert sections.format_mean_ci(0.95, 0.10, 3, 3, "final_test_acc") == "95.0 [85.0, 100.0]†"
    assert sections.format_mean_ci(0.50, 0.10, 3, 3, "final_test_acc") == "50.0 ± 10.0"
    assert sections.format_mean_ci(0.001, 0.004, 3, 3, "spike_rate") == "0.10 [0.00, 0.50]†"
    assert sections.format_difference(0.5, -0.3, 1.3, "final_test_acc").endswith("[-30.0, +100.0]†")


def test_report_row_clips_the_pick_accuracy(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, "batch", [0.99, 0.80, 0.99])
    _seeds(make_run, root, "layer", [0.20, 0.21, 0.22])
    [rec] = _recommend(root)
    row = sections.recommendation_row(rec)
    assert row[1] == "batch" and row[4].endswith("100.0]†")


def test_best_value_marked_only_where_distinguishable():
    apart = [np.array([0.90, 0.91, 0.92]), np.array([0.80, 0.81, 0.82]), np.array([0.50, 0.51, 0.52])]
    overlapping = [np.array([0.60, 0.90, 0.95]), np.array([0.80, 0.81, 0.82])]
    assert sections.best_row(apart, "higher") == 0
    assert sections.best_row(apart, "lower") == 2
    assert sections.best_row(overlapping, "higher") is None
    assert sections.best_row([np.array([0.3, 0.31]), np.array([-0.01, 0.01])], "zero") == 1
    assert sections.best_row([np.array([0.9]), np.array([0.1])], "higher") is None  # one seed: no interval


def test_setting_table_bolds_nothing_when_intervals_overlap(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, "batch", [0.60, 0.90, 0.95])
    _seeds(make_run, root, "layer", [0.80, 0.81, 0.82])
    loaded = load_runs([root])
    usable = usable_runs(add_run_metrics(loaded.runs, loaded.curves, 2.0, 50))
    blocks = sections.settings_section(group_table(usable), usable)
    table = next(block for block in blocks if isinstance(block, sections.Table))
    accuracy_column = table.header.index("final test acc (%)")
    assert not any(column == accuracy_column for _, column in table.bold)


def test_runs_written_with_a_per_layer_label_read_as_their_norm(tmp_path, make_run):
    root = tmp_path / "results"
    make_run(root, norm="batch+batch", seed=0)  # a summary written before one norm in every layer was that norm
    make_run(root, norm="batch", seed=1)
    make_run(root, norm="batch+layer", seed=0)
    loaded = load_runs([root])
    assert sorted(loaded.runs["norm"]) == ["batch", "batch", "batch+layer"]


def test_tie_break_that_narrows_without_deciding_says_so():
    from normbench.decide.selection import VAL_SCORE as SCORE
    from normbench.report.recommend import Candidate, recommend

    def candidate(name, accuracies, volatility):
        values = {SCORE: np.array(accuracies), "loss_volatility": np.array(volatility),
                  "steps_per_s": np.array([100.0, 101.0, 99.0])}
        return Candidate(name, 3, 0, values)

    rec = recommend({}, "setting", [candidate("batch", [0.80, 0.86, 0.92], [0.50, 0.51, 0.52]),
                                    candidate("layer", [0.80, 0.85, 0.90], [0.10, 0.11, 0.12]),
                                    candidate("group", [0.79, 0.84, 0.89], [0.10, 0.12, 0.11])])
    assert (rec.decision, rec.norm, rec.tied, rec.left) == (UNDECIDED, "layer", ["batch", "layer", "group"],
                                                             ["layer", "group"])
    assert rec.statement == ("no clear winner among batch, layer, group; the tie-break (stability, then validation loss) leaves "
                             "layer, group and separates them no further (layer has the highest mean of them)")
