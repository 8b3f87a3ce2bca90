"""Claims 7 (Post-LN needs warm-up, Pre-LN does not) and 8 (BN trains Transformers worse than LN) on synthetic
run sets built to support, contradict or not cover them; and the warm-up figure drawn from them."""

import pytest

from normbench.report.claims import evaluate_claims
from normbench.report.groups import group_table, usable_runs
from normbench.report.load import load_runs
from normbench.report.plots import Drawn, PlotData, Skip
from normbench.report.plots.warmup_figure import warmup_figure
from normbench.report.run_metrics import add_run_metrics
from normbench.report.style import norm_colours

WARM = dict(optimizer="adam warmup=50 cosine", warmup_steps=50, lr_schedule="cosine")
COLD = dict(optimizer="adam cosine", warmup_steps=0, lr_schedule="cosine")


def _usable(root):
    loaded = load_runs([root])
    return usable_runs(add_run_metrics(loaded.runs, loaded.curves, 2.0, 50)), loaded


def _results(root) -> dict:
    return {(result.claim.id, result.model): result for result in evaluate_claims(_usable(root)[0])}


def _cell(make_run, root, position, lr, schedule, accs, norm="layer"):
    """Three seeds of one Transformer configuration; an accuracy of None is a diverged seed."""
    for seed, acc in enumerate(accs):
        fields = dict(model="transformer", model_cell=position, norm=norm, lr=lr, seed=seed, data_num_classes=10,
                      experiment="transformer_stability", **schedule,
                      name=f"{position}_{norm}_lr{lr:g}_warmup{schedule['warmup_steps']}_s{seed}")
        if acc is None:
            make_run(root, status="diverged", diverged_step=20, **fields)
        else:
            make_run(root, test_acc=acc, **fields)


def _study(make_run, root, accs: dict):
    """accs[(position, lr, warm)] -> three seeds' accuracies."""
    for (position, lr, warm), values in accs.items():
        _cell(make_run, root, position, lr, WARM if warm else COLD, values)


TRAINS = [0.85, 0.86, 0.84]
FAILS = [0.10, 0.11, 0.09]  # chance on 10 classes: does not "train" (< 2 x chance)
DIVERGED = [None, None, None]


def test_post_ln_failing_without_warm_up_at_the_largest_trainable_lr_supports_claim_7(tmp_path, make_run):
    accs = {}
    for position in ("pre", "post"):
        accs[(position, 0.001, True)] = accs[(position, 0.001, False)] = TRAINS
        accs[(position, 0.01, True)] = TRAINS
        accs[(position, 0.1, True)] = FAILS  # too large even with warm-up: not the lr the claim is judged at
        accs[(position, 0.1, False)] = DIVERGED
    accs[("pre", 0.01, False)] = [0.84, 0.83, 0.85]
    accs[("post", 0.01, False)] = DIVERGED  # Post-LN without warm-up at 0.01: diverged, scored 0
    _study(make_run, tmp_path / "results", accs)
    result = _results(tmp_path / "results")[("7", "transformer")]
    assert result.verdict == "supported"
    assert len(result.comparisons) == 1 and "lr=0.01" in result.comparisons[0].label
    # (post with − post without) − (pre with − pre without) = (0.85 − 0) − (0.85 − 0.84)
    assert result.estimate == pytest.approx(0.85 - 0.01)
    assert "post's own drop: +85" in result.note


def test_pre_ln_failing_without_warm_up_contradicts_claim_7(tmp_path, make_run):
    accs = {}
    for position in ("pre", "post"):
        accs[(position, 0.001, True)] = accs[(position, 0.001, False)] = TRAINS
        accs[(position, 0.01, True)] = TRAINS
    accs[("post", 0.01, False)] = [0.84, 0.83, 0.85]
    accs[("pre", 0.01, False)] = FAILS
    _study(make_run, tmp_path / "results", accs)
    result = _results(tmp_path / "results")[("7", "transformer")]
    assert result.verdict == "contradicted" and result.estimate == pytest.approx(0.01 - 0.75)


def test_claim_7_is_inconclusive_when_both_positions_need_warm_up_and_not_covered_without_warm_up_runs(
        tmp_path, make_run):
    both = tmp_path / "both"
    accs = {(position, 0.01, True): TRAINS for position in ("pre", "post")}
    accs[("post", 0.01, False)] = [0.30, 0.50, 0.40]
    accs[("pre", 0.01, False)] = [0.45, 0.35, 0.40]
    _study(make_run, both, accs)
    result = _results(both)[("7", "transformer")]
    assert result.verdict == "inconclusive" and result.estimate == pytest.approx(0.0, abs=1e-9)

    no_cold = tmp_path / "no_cold"
    _study(make_run, no_cold, {(position, 0.01, True): TRAINS for position in ("pre", "post")})
    result = _results(no_cold)[("7", "transformer")]
    assert result.verdict == "not covered" and "no learning rate at which post and pre both train" in result.note


def test_transformer_claims_are_left_out_without_transformer_runs_and_never_judged_on_other_models(
        tmp_path, make_run):
    root = tmp_path / "results"
    for norm, accs in (("layer", [0.9, 0.91, 0.92]), ("batch", [0.7, 0.71, 0.72])):
        for seed, acc in enumerate(accs):
            make_run(root, norm=norm, seed=seed, test_acc=acc)  # an MLP
    results = _results(root)
    assert {claim_id for claim_id, _ in results} == {"1", "2", "3", "4a", "4b", "5", "6"}  # 7 and 8 need a Transformer
    assert ("8", "mlp") not in results  # a Transformer claim says nothing about the MLP
    assert results[("3", "mlp")].verdict != "not covered"  # the general claims still are


def test_bn_worse_than_ln_in_transformers_is_judged_per_norm_position(tmp_path, make_run):
    root = tmp_path / "results"
    for position, batch_accs in (("pre", [0.70, 0.72, 0.71]), ("post", [0.93, 0.94, 0.92])):
        _cell(make_run, root, position, 0.003, COLD, [0.85, 0.86, 0.84], norm="layer")
        _cell(make_run, root, position, 0.003, COLD, batch_accs, norm="batch")
    results = _results(root)
    assert results[("8", "transformer-pre")].verdict == "supported"
    assert results[("8", "transformer-pre")].estimate == pytest.approx(0.85 - 0.71)
    assert results[("8", "transformer-post")].verdict == "contradicted"


def test_warmup_figure_draws_a_panel_per_norm_position_and_skips_without_warm_up_runs(tmp_path, make_run):
    accs = {}
    for position in ("pre", "post"):
        for lr in (0.001, 0.01):
            accs[(position, lr, True)] = accs[(position, lr, False)] = TRAINS
    _study(make_run, tmp_path / "results", accs)
    usable, loaded = _usable(tmp_path / "results")
    figure = warmup_figure(PlotData(usable, group_table(usable), loaded.curves, norm_colours(usable["norm"])))
    assert isinstance(figure, Drawn) and len(figure.figure.axes) == 2
    titles = sorted(ax.get_title().replace("\n", " ") for ax in figure.figure.axes)
    assert titles[0].startswith("transformer-post") and titles[1].startswith("transformer-pre")
    assert len(figure.figure.axes[0].lines) >= 2  # with and without warm-up

    only_warm = tmp_path / "only_warm"
    _study(make_run, only_warm, {(position, lr, True): TRAINS for position in ("pre", "post") for lr in (0.001, 0.01)})
    usable, loaded = _usable(only_warm)
    assert isinstance(warmup_figure(PlotData(usable, group_table(usable), loaded.curves,
                                             norm_colours(usable["norm"]))), Skip)
