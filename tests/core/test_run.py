"""End to end in-process: the run-directory contract, determinism, divergence as data."""

import json

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from normbench.engine.run import run_experiment

from .conftest import TINY, read_run

SUMMARY_KEYS = {"status", "model", "norm", "batch_size", "seed", "steps", "final_train_loss", "final_test_loss",
                "final_test_acc", "wall_time_s", "steps_per_s", "config_hash"}


def _run(make_cfg, tmp_path, *overrides, name="run"):
    cfg = make_cfg(*TINY, f"results_dir={tmp_path}", *overrides)
    run_dir = tmp_path / name
    return run_experiment(cfg, run_dir), run_dir


def test_run_directory_contract(make_cfg, tmp_path):
    summary, run_dir = _run(make_cfg, tmp_path, "model=cnn", "norm=batch", "batch_size=32")
    assert summary.keys() >= SUMMARY_KEYS
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    assert summary["status"] == "completed" and summary["steps"] == 40
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert list(metrics.columns) == ["step", "split", "metric", "value"]
    train_loss = metrics.query("split == 'train' and metric == 'loss'")
    assert train_loss.step.tolist() == list(range(1, 41))  # every step, in order
    assert metrics.query("split == 'test' and metric == 'acc'").step.tolist() == [0, 20, 40]
    assert summary["final_test_acc"] == metrics.query("split == 'test' and metric == 'acc'").value.iloc[-1]
    assert summary["final_train_loss"] == pytest.approx(train_loss.value.iloc[-10:].mean())  # last log window
    # BN runs also report accuracy under batch statistics (the train/eval gap)
    assert len(metrics.query("split == 'test_batch_stats' and metric == 'acc'")) == 3
    # one event file, in the run directory itself: hparams are not a stray sub-run
    events = list(run_dir.glob("events.out.tfevents.*"))
    assert len(events) == 1 and not [p for p in run_dir.iterdir() if p.is_dir()]
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0}).Reload()
    tags = acc.Tags()["scalars"]
    assert {"train/loss", "train/acc", "test/loss", "test/acc", "train/lr", "train/grad_norm",
            "train/samples_per_s", "hparam/final_test_acc"} <= set(tags)
    # session start and end infos; no per-run experiment summary (it would fix every column's domain to this run's)
    assert set(acc.PluginTagToContent("hparams")) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}


def test_same_config_gives_identical_metrics(make_cfg, tmp_path):
    same = ["model=mlp", "norm=layer", "deterministic=true"]  # CPU runs are bit-reproducible anyway; CUDA needs it
    _, a = _run(make_cfg, tmp_path, *same, name="a")
    _, b = _run(make_cfg, tmp_path, *same, name="b")
    _, c = _run(make_cfg, tmp_path, *same, "seed=1", name="c")
    values = lambda d: read_run(d)[1].query("metric in ['loss', 'acc', 'grad_norm']").value.tolist()  # noqa: E731
    assert values(a) == values(b)
    assert values(a) != values(c)


def test_seed_zero_is_a_real_seed(make_cfg, tmp_path):
    _, zero = _run(make_cfg, tmp_path, "seed=0", name="zero")
    _, again = _run(make_cfg, tmp_path, "seed=0", name="again")
    _, one = _run(make_cfg, tmp_path, "seed=1", name="one")
    assert read_run(zero)[0]["seed"] == 0
    losses = lambda d: read_run(d)[1].query("metric == 'loss'").value.tolist()  # noqa: E731
    assert losses(zero) == losses(again)  # a seed treated as "unset" would draw a fresh random seed each time
    assert losses(zero) != losses(one)


def test_non_finite_loss_ends_the_run_as_diverged_without_padding(make_cfg, tmp_path):
    summary, run_dir = _run(make_cfg, tmp_path, "optim=sgd", "optim.lr=1e12", "norm=none")
    assert summary["status"] == "diverged"
    step = summary["diverged_step"]
    assert 1 <= step <= 40 and ("nan" in summary["error"] or "inf" in summary["error"] or "exceeded" in summary["error"])
    assert summary["final_test_acc"] is None
    metrics = read_run(run_dir)[1]
    train_loss = metrics.query("split == 'train' and metric == 'loss'")
    # Every step before the divergence has its train loss, once and in order; nothing is logged at or after it.
    assert step >= 2, "diverged at step 1: no logged step left to check"
    assert train_loss.step.tolist() == list(range(1, step))
    assert metrics.step.max() < step
    assert metrics.value.map(lambda v: v == v and abs(v) < 1e4).all()  # no nan/inf padding, nothing past the threshold
    # The logged loss is the step's real one: step 1 sees the same weights and batch whatever the learning rate.
    _, calm_dir = _run(make_cfg, tmp_path, "optim=sgd", "optim.lr=0.01", "norm=none", name="calm")
    calm_loss = read_run(calm_dir)[1].query("split == 'train' and metric == 'loss'")
    assert train_loss.value.iloc[0] == calm_loss.value.iloc[0]


def test_loss_above_the_divergence_threshold_is_divergence(make_cfg, tmp_path):
    summary, run_dir = _run(make_cfg, tmp_path, "trainer.divergence_loss=2.0", "optim.lr=0.5", "norm=none")
    metrics = read_run(run_dir)[1].query("split == 'train' and metric == 'loss'")
    assert summary["status"] == "diverged"
    assert (metrics.value <= 2.0).all() and metrics.step.tolist() == list(range(1, summary["diverged_step"]))


def test_epochs_set_the_budget(make_cfg, tmp_path):
    tiny_without_steps = [o for o in TINY if not o.startswith("trainer.max_steps=")]  # epochs and steps exclude each other
    cfg = make_cfg(*tiny_without_steps, "data=synthetic", "trainer.epochs=2", "batch_size=100")
    summary = run_experiment(cfg, tmp_path / "run")
    assert summary["max_steps"] == 18 and summary["steps"] == 18  # (1000 - 100 validation) samples // 100 × 2 epochs


def test_probes_are_logged_and_leave_training_untouched(make_cfg, tmp_path):
    _, plain = _run(make_cfg, tmp_path, "model=cnn", "norm=batch", "batch_size=16", name="plain")
    _, probed = _run(make_cfg, tmp_path, "model=cnn", "norm=batch", "batch_size=16", "probe.every=10", name="probed")
    plain_metrics, probed_metrics = read_run(plain)[1], read_run(probed)[1]
    probes = probed_metrics.query("split == 'probe'")
    assert sorted(probes.metric.unique()) == ["beta_smoothness", "grad_predictiveness", "loss_variation"]
    assert probes.query("metric == 'loss_variation'").step.tolist() == [10, 20, 30, 40]
    assert (probes.value >= 0).all() and (probes.query("metric == 'loss_variation'").value > 0).all()
    keep = lambda m: m.query("split != 'probe' and metric != 'samples_per_s'").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(keep(plain_metrics), keep(probed_metrics))  # bit-for-bit identical training


def test_a_default_run_logs_validation_metrics_at_every_evaluation_and_summarizes_them(make_cfg, tmp_path):
    """Validation loss and accuracy beside test's at every evaluation point (metrics.csv and TensorBoard), and the
    summary's final_val_loss, final_val_acc, best_val_acc (the highest logged) and best_val_step (its step)."""
    summary, run_dir = _run(make_cfg, tmp_path, "model=cnn", "norm=batch", "batch_size=32", "data.num_train=400")
    metrics = pd.read_csv(run_dir / "metrics.csv")
    test_steps = metrics.query("split == 'test' and metric == 'acc'").step.tolist()
    val_acc = metrics.query("split == 'val' and metric == 'acc'")
    val_loss = metrics.query("split == 'val' and metric == 'loss'")
    assert val_acc.step.tolist() == val_loss.step.tolist() == test_steps == [0, 20, 40]
    assert summary["final_val_acc"] == val_acc.value.iloc[-1] and summary["final_val_loss"] == val_loss.value.iloc[-1]
    assert summary["best_val_acc"] == val_acc.value.max()
    assert summary["best_val_step"] in test_steps and isinstance(summary["best_val_step"], int)
    assert val_acc.set_index("step").value[summary["best_val_step"]] == summary["best_val_acc"]
    assert (summary["val_source"], summary["val_fraction"], summary["val_size"]) == ("carved", 0.1, 40)
    assert isinstance(summary["val_seed"], int)
    tags = EventAccumulator(str(run_dir), size_guidance={"scalars": 0}).Reload().Tags()["scalars"]
    assert {"val/loss", "val/acc", "hparam/final_val_acc", "hparam/best_val_acc"} <= set(tags)


def test_the_validation_split_is_the_same_examples_for_every_seed_and_none_at_zero(make_cfg, tmp_path):
    a, _ = _run(make_cfg, tmp_path, "model=mlp", "seed=0", "data.num_train=400", name="a")
    b, _ = _run(make_cfg, tmp_path, "model=mlp", "seed=1", "data.num_train=400", name="b")
    assert a["val_seed"] == b["val_seed"] and a["val_size"] == b["val_size"] == 40
    off, run_dir = _run(make_cfg, tmp_path, "model=mlp", "data.num_train=400", "data.val_fraction=0",
                        "objective=final_test_acc", name="off")
    assert (off["val_source"], off["val_size"], off["val_seed"]) == ("none", 0, None)
    assert off["final_val_acc"] is None and off["best_val_acc"] is None and off["best_val_step"] is None
    assert "val" not in set(pd.read_csv(run_dir / "metrics.csv").split)


def test_the_default_objective_is_validation_accuracy_and_a_run_without_it_is_refused_before_training(make_cfg,
                                                                                                       tmp_path):
    """objective=final_val_acc (the default): an optimizing sweep chooses on validation data. A run that holds no
    validation split out (data.val_fraction=0) cannot give it: refused at the config check, in one line, before
    anything is built or written."""
    from normbench.config.validate import validate
    from normbench.errors import ConfigError

    assert make_cfg().objective == "final_val_acc"
    with pytest.raises(ConfigError) as refused:
        _run(make_cfg, tmp_path, "data.val_fraction=0")
    assert str(refused.value).startswith("objective=final_val_acc reads the validation split, but data.val_fraction=0")
    assert "\n" not in str(refused.value) and not (tmp_path / "run").exists()
    for metric in ("final_val_loss", "best_val_acc"):
        with pytest.raises(ConfigError, match=f"objective={metric} reads the validation split"):
            validate(make_cfg("data.val_fraction=0", f"objective={metric}"))
    validate(make_cfg("data.val_fraction=0", "objective=final_test_acc"))  # chosen on the test set, as asked


def test_a_run_at_the_new_default_is_not_taken_for_one_written_before_the_validation_split(make_cfg, tmp_path):
    """A directory of a run on all its training data (as every run before data.val_fraction): a default run there is
    another computation, refused in one line saying how to continue that study; the old run is left untouched."""
    from normbench.errors import ConfigError

    old, run_dir = _run(make_cfg, tmp_path, "data.val_fraction=0", "objective=final_test_acc")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and not p.name.startswith(".")}
    with pytest.raises(ConfigError) as refused:
        _run(make_cfg, tmp_path)
    message = str(refused.value)
    assert "\n" not in message and "before data.val_fraction existed" in message
    assert "add data.val_fraction=0.0 objective=final_test_acc to continue that study" in message
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and not p.name.startswith(".")} == before
    again = _run(make_cfg, tmp_path, "data.val_fraction=0", "objective=final_test_acc")[0]
    assert again["skipped"] and again["config_hash"] == old["config_hash"]
