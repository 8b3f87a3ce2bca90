"""Claim verdicts on run sets built to support, contradict, or not cover each claim; and grouping."""

import math

import numpy as np
import pytest

from normbench.report.claims import CLAIMS, evaluate_claims, verdict
from normbench.report.groups import group_table, usable_runs
from normbench.report.load import load_runs
from normbench.report.run_metrics import add_run_metrics
from tests.report.synthetic import flat_curves


def _usable(root):
    loaded = load_runs([root])
    return usable_runs(add_run_metrics(loaded.runs, loaded.curves, 2.0, 50))


def _verdicts(root) -> dict:
    """(claim id, model) -> ClaimResult."""
    return {(result.claim.id, result.model): result for result in evaluate_claims(_usable(root))}


def _seeds(make_run, root, values, **fields):
    for seed, value in enumerate(values):
        make_run(root, seed=seed, **fields, **value)


def test_verdict_rule():
    assert verdict("lower", -0.3, -0.1) == "supported"
    assert verdict("lower", 0.1, 0.3) == "contradicted"
    assert verdict("higher", 0.1, 0.3) == "supported"
    assert verdict("higher", -0.3, -0.1) == "contradicted"
    assert verdict("higher", -0.1, 0.3) == "inconclusive"


def test_loss_claims_supported_for_one_model_and_contradicted_for_another(tmp_path, make_run):
    root = tmp_path / "results"
    low, high = [{"loss": 0.50}, {"loss": 0.52}, {"loss": 0.48}], [{"loss": 1.00}, {"loss": 1.03}, {"loss": 0.98}]
    _seeds(make_run, root, low, model="mlp", norm="batch")
    _seeds(make_run, root, high, model="mlp", norm="layer")
    _seeds(make_run, root, high, model="cnn", norm="batch")
    _seeds(make_run, root, low, model="cnn", norm="layer")
    results = _verdicts(root)
    # Claim 1: BN's early (10%) train loss is lower than LN's. Flat curves: early loss = the flat value.
    assert results[("1", "mlp")].verdict == "supported"
    assert results[("1", "mlp")].estimate == pytest.approx(0.50 - (1.00 + 1.03 + 0.98) / 3)
    assert results[("1", "cnn")].verdict == "contradicted"
    # Claim 3: LN ends lower than BN: the opposite of what the mlp runs show.
    assert results[("3", "mlp")].verdict == "contradicted"
    assert results[("3", "cnn")].verdict == "supported"


def test_overlapping_seeds_are_inconclusive(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, [{"loss": 0.5}, {"loss": 1.0}, {"loss": 1.5}], norm="batch")
    _seeds(make_run, root, [{"loss": 0.6}, {"loss": 1.1}, {"loss": 1.4}], norm="layer")
    result = _verdicts(root)[("1", "mlp")]
    assert result.verdict == "inconclusive"
    assert result.low < 0 < result.high


def test_single_seed_is_inconclusive_without_an_interval(tmp_path, make_run):
    root = tmp_path / "results"
    make_run(root, norm="batch", loss=0.5)
    make_run(root, norm="layer", loss=1.0)
    result = _verdicts(root)[("1", "mlp")]
    assert result.verdict == "inconclusive"
    assert math.isnan(result.low) and "fewer than 2 seeds" in result.note


def test_claims_without_their_groups_are_not_covered(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, [{"loss": 0.5}, {"loss": 0.6}], norm="batch", batch_size=100)
    _seeds(make_run, root, [{"loss": 1.0}, {"loss": 1.1}], norm="layer", batch_size=32)  # another setting
    results = _verdicts(root)
    assert results[("1", "mlp")].verdict == "not covered"  # never compared across batch sizes
    assert "no setting has runs of both batch and layer" in results[("1", "mlp")].note
    assert results[("5", "mlp")].verdict == "not covered"  # no `none` runs
    assert results[("6", "mlp")].verdict == "not covered"
    assert "probe rows" in results[("6", "mlp")].note
    # Every claim about the models run (claims about one kind of model, the Transformer's, need its runs).
    assert {result.claim.id for result in results.values()} == {claim.id for claim in CLAIMS if not claim.model}


def _alternating(amplitude: float, steps: int = 400) -> dict:
    """Flat curves whose train loss alternates by ×e^±amplitude: volatility ≈ amplitude·sqrt(m/(m−1))."""
    curves = flat_curves(steps)
    t = np.arange(1, steps + 1)
    curves["train/loss"] = (t, np.exp(np.where(t % 2 == 0, amplitude, 0.0)))
    return curves


def test_volatility_claim(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, [{"curves": _alternating(a)} for a in (0.30, 0.31, 0.29)], norm="batch", steps=400)
    _seeds(make_run, root, [{"curves": _alternating(a)} for a in (0.10, 0.11, 0.09)], norm="layer", steps=400)
    result = _verdicts(root)[("2", "mlp")]
    assert result.verdict == "supported"
    assert result.estimate == pytest.approx(0.20, rel=0.02)


def test_small_batch_degradation_claim(tmp_path, make_run):
    def sweep(root, batch_accs: dict, layer_accs: dict):
        for batch_size in (8, 256):
            _seeds(make_run, root, [{"test_acc": acc} for acc in batch_accs[batch_size]], norm="batch",
                   batch_size=batch_size)
            _seeds(make_run, root, [{"test_acc": acc} for acc in layer_accs[batch_size]], norm="layer",
                   batch_size=batch_size)

    bn_drops = {256: [0.90, 0.91, 0.92], 8: [0.70, 0.72, 0.71]}
    flat = {256: [0.88, 0.89, 0.90], 8: [0.87, 0.88, 0.89]}
    sweep(tmp_path / "supports", bn_drops, flat)
    sweep(tmp_path / "contradicts", flat, bn_drops)
    supported = _verdicts(tmp_path / "supports")[("4a", "mlp")]
    assert supported.verdict == "supported"
    assert supported.estimate == pytest.approx((0.91 - 0.71) - (0.89 - 0.88))
    assert _verdicts(tmp_path / "contradicts")[("4a", "mlp")].verdict == "contradicted"
    assert _verdicts(tmp_path / "supports")[("4b", "mlp")].verdict == "not covered"  # no GroupNorm runs

    # LN improving toward small batches while BN stays flat also widens the difference of drops, but
    # BN does not degrade: that is not the claim.
    ln_improves = {256: [0.60, 0.61, 0.62], 8: [0.88, 0.89, 0.90]}
    sweep(tmp_path / "ln_improves", flat, ln_improves)
    result = _verdicts(tmp_path / "ln_improves")[("4a", "mlp")]
    assert result.estimate > 0.2 and result.low > 0  # the difference alone would say "supported"
    assert result.verdict == "inconclusive" and "batch's own drop" in result.note
    assert "not from batch degrading" in result.note
    assert "batch's own drop: +20" in supported.note  # (0.91 − 0.71) in percentage points

    one_size = tmp_path / "one_size"
    _seeds(make_run, one_size, [{"test_acc": 0.9}, {"test_acc": 0.8}], norm="batch")
    _seeds(make_run, one_size, [{"test_acc": 0.9}, {"test_acc": 0.8}], norm="layer")
    result = _verdicts(one_size)[("4a", "mlp")]
    assert result.verdict == "not covered" and "two batch sizes" in result.note


def test_learning_rate_tolerance_claim_compares_the_trainable_windows(tmp_path, make_run):
    root = tmp_path / "results"
    for lr in (0.01, 1.0):  # batch trains at both: window 0.01 … 1
        _seeds(make_run, root, [{"test_acc": acc, "final_val_acc": acc} for acc in (0.85, 0.86, 0.84)], norm="batch",
               lr=lr)
    # none trains at 0.01 only (diverged at 1): window 0.01 … 0.01
    _seeds(make_run, root, [{"test_acc": acc, "final_val_acc": acc} for acc in (0.80, 0.81, 0.79)], norm="none",
           lr=0.01)
    _seeds(make_run, root, [{"status": "diverged", "diverged_step": 20}] * 3, norm="none", lr=1.0)
    result = _verdicts(root)[("5", "mlp")]
    assert result.verdict == "supported"
    assert result.estimate == pytest.approx(2.0)  # log10(1) − log10(0.01) decades
    assert len(result.comparisons) == 1 and "0.01 … 1, 2.0 decades vs 0.01 only" in result.comparisons[0].label

    single_lr = tmp_path / "single_lr"
    _seeds(make_run, single_lr, [{"test_acc": 0.85}, {"test_acc": 0.84}], norm="batch")
    _seeds(make_run, single_lr, [{"test_acc": 0.80}, {"test_acc": 0.81}], norm="none")
    assert _verdicts(single_lr)[("5", "mlp")].verdict == "not covered"


def _with_probe(value: float) -> dict:
    curves = flat_curves()
    probe_steps = np.arange(20, 201, 20)
    curves["probe/loss_variation"] = (probe_steps, np.full(len(probe_steps), value))
    return curves


def test_landscape_claim_from_probe_rows(tmp_path, make_run):
    root = tmp_path / "results"
    _seeds(make_run, root, [{"curves": _with_probe(v)} for v in (0.20, 0.22, 0.21)], norm="batch")
    _seeds(make_run, root, [{"curves": _with_probe(v)} for v in (0.80, 0.82, 0.78)], norm="none")
    result = _verdicts(root)[("6", "mlp")]
    assert result.verdict == "supported"
    assert result.estimate == pytest.approx(0.21 - 0.80)


def test_different_configurations_are_never_averaged(tmp_path, make_run):
    root = tmp_path / "results"
    # Two configurations of BatchNorm in one setting (say, different momentum): same norm, other group_hash.
    for momentum, loss in ((0.1, 0.5), (0.9, 2.0)):
        for seed in range(2):
            make_run(root, norm="batch", seed=seed, loss=loss, extra_identity={"momentum": momentum},
                     name=f"batch_momentum{momentum}_s{seed}")
    _seeds(make_run, root, [{"loss": 1.0}, {"loss": 1.0}], norm="layer")
    usable = _usable(root)
    groups = group_table(usable)
    batch = groups[groups["norm"] == "batch"]
    assert len(batch) == 2 and batch["group_hash"].nunique() == 2
    assert sorted(batch["final_train_loss_mean"]) == [0.5, 2.0]  # not their pooled 1.25
    assert all(label.startswith("batch #") for label in batch["variant"])
    result = _verdicts(root)[("1", "mlp")]
    assert result.verdict == "not covered"  # which BN configuration to compare is ambiguous
    assert "several configurations of one norm" in result.note


def test_group_table_interval_matches_hand_calculation(tmp_path, make_run):
    root = tmp_path / "results"
    accuracies = [0.80, 0.84, 0.85]
    _seeds(make_run, root, [{"test_acc": acc} for acc in accuracies], norm="layer")
    make_run(root, norm="layer", seed=3, status="diverged", diverged_step=50)
    row = group_table(_usable(root)).iloc[0]
    t_975_df2 = 4.302653  # Student-t 97.5% quantile, 2 degrees of freedom (statistical tables)
    assert row["n_runs"] == 4 and row["n_diverged"] == 1 and row["divergence_share"] == 0.25
    assert row["final_test_acc_n"] == 3  # the diverged run has no final accuracy
    assert row["final_test_acc_mean"] == pytest.approx(np.mean(accuracies))
    assert row["final_test_acc_half"] == pytest.approx(t_975_df2 * np.std(accuracies, ddof=1) / math.sqrt(3),
                                                       rel=1e-6)
    assert row["final_test_acc_or_0_mean"] == pytest.approx(sum(accuracies) / 4)  # diverged scored 0
