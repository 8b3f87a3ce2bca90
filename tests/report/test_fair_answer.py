"""Issue 19 on the report side: comparison sets from the run identity, selection on validation only, each norm at
its own best learning rate, the trainable LR window and the expected best after k trials (hand-computed)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from normbench.decide.comparable import add_comparison_columns, distinguishing_labels, flatten_identity
from normbench.decide.equivalence import equivalent
from normbench.decide.recommend import CLEAR, recommend_all
from normbench.decide.selection import add_scores
from normbench.decide.tuning_cost import expected_max, expected_max_curve
from normbench.decide.window import lr_window
from normbench.report.groups import usable_runs

IDENTITY = {"batch_size": 50, "seed": 0, "identity_version": 2,
            "data": {"name": "synthetic", "shape": [28, 28], "num_classes": 10},
            "model": {"name": "factory", "width": 8, "layer_norms": None},
            "norm": {"name": "batch", "eps": 1e-5},
            "optim": {"name": "adam", "lr": 0.01, "weight_decay": 0.0},
            "trainer": {"max_steps": 200}}


def _identity(**changes) -> dict:
    identity = json.loads(json.dumps(IDENTITY))
    for dotted, value in changes.items():
        section, _, key = dotted.partition(".")
        if key:
            identity[section][key] = value
        else:
            identity[section] = value
    return identity


def _run(index, norm, seed, val, test, identity, status="completed", **extra) -> dict:
    flat = flatten_identity(identity)
    group = json.dumps({key: value for key, value in flat.items() if key != "seed"}, sort_keys=True)
    return {"run_id": f"r{index}", "status": status, "experiment": "x", "model": "factory",
            "model_label": "factory", "norm": norm, "data": "synthetic", "batch_size": 50, "optimizer": "adam",
            "lr": identity["optim"]["lr"], "seed": seed, "group_hash": str(abs(hash(group))), "steps_per_s": 100.0,
            "final_val_acc": val if status == "completed" else math.nan, "final_val_loss": 1 - val,
            "final_test_acc": test if status == "completed" else math.nan, "final_test_loss": 1.0,
            "loss_volatility": 0.1, "spike_rate": 0.0, "identity": json.dumps(flat, sort_keys=True), **extra}


def _usable(rows) -> pd.DataFrame:
    return usable_runs(pd.DataFrame(rows))


def test_runs_that_differ_beyond_norm_seed_and_tuned_values_are_never_ranked_together():
    rows, index = [], 0
    for changes in ({}, {"data.shape": [32, 32]}, {"model.width": 48}, {"trainer.max_steps": 400}):
        for norm in ("batch", "layer"):
            for lr in (0.01, 0.1):
                for seed in range(3):
                    identity = _identity(**changes, **{"norm.name": norm, "optim.lr": lr, "seed": seed})
                    rows.append(_run(index, norm, seed, 0.8, 0.8, identity))
                    index += 1
    usable = _usable(rows)
    recs = recommend_all(usable)
    assert len(recs) == 4  # one per image size / width / budget, each covering both learning rates
    contexts = sorted(rec.setting["context"] for rec in recs)
    assert contexts == ["data.shape=[28,28] · model.width=48 · trainer.max_steps=200",
                        "data.shape=[28,28] · model.width=8 · trainer.max_steps=200",
                        "data.shape=[28,28] · model.width=8 · trainer.max_steps=400",
                        "data.shape=[32,32] · model.width=8 · trainer.max_steps=200"]
    for rec in recs:  # every set compares both norms, each over its two learning rates
        assert sorted(rec.choices) == ["batch", "layer"]
        assert all(len(choice.options) == 2 for choice in rec.choices.values())


def test_labels_name_only_what_differs_and_never_collide():
    labels = distinguishing_labels([{"a": "1", "b": "2"}, {"a": "1", "b": "3"}, {"a": "1"}])
    assert labels == ["b=2", "b=3", ""]


def test_norm_own_settings_and_optimizer_values_stay_in_one_set():
    rows = [_run(i, "batch", i % 3, 0.8, 0.8, _identity(**{"norm.eps": eps, "optim.weight_decay": wd, "seed": i % 3}))
            for i, (eps, wd) in enumerate([(1e-5, 0.0)] * 3 + [(1e-3, 0.1)] * 3)]
    usable = add_comparison_columns(pd.DataFrame(rows))
    assert usable["context"].nunique() == 1
    assert set(usable["optim_rest"]) == {"optim.weight_decay=0.0", "optim.weight_decay=0.1"}
    assert usable["arm"].nunique() == 2 and all(arm.startswith("batch #") for arm in usable["arm"])


def _lr_sweep(rng=None):
    """batch: best at lr 0.1, diverges at 1; layer: best at 0.01; none: best at 0.01 and worse."""
    table = {"batch": {0.001: 0.70, 0.01: 0.85, 0.1: 0.90, 1.0: None},
             "layer": {0.001: 0.80, 0.01: 0.88, 0.1: 0.87, 1.0: 0.60},
             "none": {0.001: 0.50, 0.01: 0.70, 0.1: None, 1.0: None}}
    rows, index = [], 0
    for norm, accs in table.items():
        for lr, acc in accs.items():
            for seed in range(3):
                identity = _identity(**{"norm.name": norm, "optim.lr": lr, "seed": seed})
                status = "diverged" if acc is None else "completed"
                val = (acc or 0) + 0.004 * seed
                test = val if rng is None else rng.uniform(0, 1)
                rows.append(_run(index, norm, seed, val, test, identity, status,
                                 final_test_loss=1.0 if rng is None else rng.uniform(0, 50)))
                index += 1
    return rows


def _decisions(recs):
    return [(rec.decision, rec.norm, rec.decided_by, rec.tied,
             {arm: choice.best.tuned["lr"] for arm, choice in rec.choices.items()},
             {arm: (record.window.low, record.window.high) for arm, record in rec.stability.items()})
            for rec in recs]


def test_each_norm_is_compared_at_its_own_best_learning_rate():
    [rec] = recommend_all(_usable(_lr_sweep()))
    assert {arm: choice.best.tuned["lr"] for arm, choice in rec.choices.items()} == \
        {"batch": 0.1, "layer": 0.01, "none": 0.01}
    assert (rec.decision, rec.norm, rec.runner_up) == (CLEAR, "batch", "layer")
    assert rec.metrics.on_validation


def _tied(rng=None):
    """batch and layer tied on validation accuracy and stability; layer's validation loss is lower."""
    rows = []
    for index, (norm, seed) in enumerate((norm, seed) for norm in ("batch", "layer") for seed in range(3)):
        val = 0.85 + 0.01 * seed
        test = val if rng is None else rng.uniform(0, 1)
        rows.append(_run(index, norm, seed, val, test, _identity(**{"norm.name": norm, "seed": seed}),
                         final_val_loss=(0.5 if norm == "batch" else 0.3) + 0.01 * seed,
                         final_test_loss=(0.3 if norm == "batch" else 0.5) if rng is None else rng.uniform(0, 50)))
    return rows


def test_no_choice_changes_when_every_test_metric_is_perturbed():
    baseline = _decisions(recommend_all(_usable(_lr_sweep())))
    tied = _decisions(recommend_all(_usable(_tied())))
    assert tied[0][:3] == ("tie broken", "layer", "validation loss")
    for seed in range(5):
        assert _decisions(recommend_all(_usable(_lr_sweep(np.random.default_rng(seed))))) == baseline
        assert _decisions(recommend_all(_usable(_tied(np.random.default_rng(seed))))) == tied


def test_old_runs_fall_back_to_test_metrics_and_say_so():
    rows = _lr_sweep()
    for row in rows:
        row["final_val_acc"] = math.nan
    [rec] = recommend_all(_usable(rows))
    assert not rec.metrics.on_validation and "test accuracy" in rec.note


def test_window_rule_on_a_hand_computed_grid():
    lrs = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
    # best 0.90 at 1e-2; within 2 pp: 3e-3 (0.89), 3e-2 (0.885); 1e-1 is within but a seed diverged there;
    # 3e-1 is within and clean but not contiguous with the best: outside.
    means = [0.50, 0.89, 0.90, 0.885, 0.89, 0.895]
    diverged = [0, 0, 0, 0, 1, 0]
    window = lr_window(lrs, means, diverged, 0.02)
    assert (window.low, window.high, window.best_lr) == (3e-3, 3e-2, 1e-2)
    assert window.decades == pytest.approx(1.0)
    assert window.text == "0.003 … 0.03, 1.0 decades"
    assert math.isnan(lr_window(lrs, means, [0, 0, 1, 0, 0, 0]).low)  # diverged at the best: no window


def test_expected_maximum_on_hand_computed_cases():
    # v = (0.2, 0.5, 0.8), F = (1/3, 2/3, 1): E[max of 1] = mean = 0.5;
    # E[max of 2] = 0.2·(1/9) + 0.5·(4/9 − 1/9) + 0.8·(1 − 4/9) = (0.2 + 1.5 + 4.0)/9 = 5.7/9.
    assert expected_max([0.8, 0.2, 0.5], 1) == pytest.approx(0.5)
    assert expected_max([0.8, 0.2, 0.5], 2) == pytest.approx(5.7 / 9)
    # E[max of 3] = 0.2/27 + 0.5·(8/27 − 1/27) + 0.8·(1 − 8/27) = (0.2 + 3.5 + 15.2)/27 = 18.9/27.
    assert expected_max_curve([0.8, 0.2, 0.5]) == pytest.approx([0.5, 5.7 / 9, 18.9 / 27])
    assert expected_max([0.7, 0.7], 2) == pytest.approx(0.7)  # ties


def test_stability_record_of_the_sweep():
    [rec] = recommend_all(_usable(_lr_sweep()))
    batch, none = rec.stability["batch"], rec.stability["none"]
    assert (batch.window.low, batch.window.high) == (0.1, 0.1)  # 0.85 at 0.01 is 5 pp below the best 0.904
    assert batch.divergence_share == pytest.approx(3 / 12) and batch.smallest_diverging_lr == 1.0
    assert none.smallest_diverging_lr == 0.1 and none.divergence_share == pytest.approx(6 / 12)
    assert batch.expected_best[-1] <= max(batch.means) and batch.expected_best[0] == pytest.approx(batch.means.mean())


def test_a_ceiling_is_equivalence_not_a_win():
    ceiling = np.ones(3)
    assert equivalent(ceiling, ceiling) and not equivalent(np.array([0.9, 0.95, 1.0]), np.array([0.5, 0.6, 0.7]))
    rows = [_run(i, norm, seed, 1.0, 1.0, _identity(**{"norm.name": norm, "seed": seed}))
            for i, (norm, seed) in enumerate((n, s) for n in ("batch", "layer") for s in range(3))]
    [rec] = recommend_all(_usable(rows))
    assert rec.equivalent == ["batch", "layer"] and "equivalent on accuracy" in rec.statement


def test_scores_count_a_diverged_run_as_zero():
    runs = pd.DataFrame({"status": ["completed", "diverged"], "final_val_acc": [0.9, math.nan],
                         "final_test_acc": [0.8, math.nan]})
    assert list(add_scores(runs)["final_val_acc_or_0"]) == [0.9, 0.0]


def test_report_compares_each_norm_at_its_lr_with_the_lr_figures(tmp_path, make_run):
    from normbench.report.pipeline import Options, build_report

    root = tmp_path / "results"
    for norm, best in (("batch", 0.1), ("layer", 0.01)):
        for lr in (0.01, 0.1):
            for seed in range(2):
                acc = (0.9 if lr == best else 0.7) + 0.01 * seed
                make_run(root, norm=norm, lr=lr, seed=seed, test_acc=0.5, final_val_acc=acc, final_val_loss=1 - acc)
    report = build_report([root], tmp_path / "out", Options(formats=("png",), html=False))
    text = (tmp_path / "out" / "report.md").read_text()
    assert "batch at lr=0.1, layer at lr=0.01" in text and "Stability across learning rates" in text
    assert {image.path for image in report.figures} >= {"figures/val_accuracy_vs_lr_per_norm.png",
                                                         "figures/expected_best_after_k.png"}
    choices = pd.read_csv(tmp_path / "out" / "recommendation_choices.csv")
    assert dict(zip(choices["norm"], choices["chosen_lr"])) == {"batch": 0.1, "layer": 0.01}
    assert pd.read_csv(tmp_path / "out" / "recommendations.csv").loc[0, "chosen_lr"] == 0.1
