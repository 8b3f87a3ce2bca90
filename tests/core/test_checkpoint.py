"""Checkpoints: a resumed run equals an uninterrupted one, and nothing in a run directory is ever executed."""

import json
import os
import pickle

import pandas as pd
import pytest

from normbench.engine.run import run_experiment
from normbench.errors import ConfigError
from normbench.rundir.checkpoint import load_checkpoint, read_sidecar
from normbench.rundir.contract import CHECKPOINT, CHECKPOINT_SIDECAR
from normbench.rundir.identity import config_hash, run_name

from .conftest import TINY


class _Payload:
    """A pickle that, if unpickled, writes a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant(run_dir, marker, config_hash=None):
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / CHECKPOINT, "wb") as handle:
        pickle.dump({"step": 5, "payload": _Payload(marker)}, handle)
    if config_hash is not None:  # a forged sidecar that names the run's own configuration
        (run_dir / CHECKPOINT_SIDECAR).write_text(json.dumps({"format": 2, "config_hash": config_hash, "step": 5}))


def test_a_checkpoint_round_trips_tensors_optimizer_and_generators(make_cfg, tmp_path):
    cfg = make_cfg(*TINY, "trainer.checkpoint_interval=10", "trainer.max_steps=20", "optim=sgd")
    run_dir = tmp_path / "run"
    # Interrupt after the first checkpoint by failing the second one.
    from normbench.engine import run as run_module

    calls = []
    real_save = run_module.save_checkpoint

    def save_then_die(*args):
        calls.append(args[2])
        real_save(*args)
        if len(calls) == 1:
            raise KeyboardInterrupt

    run_module.save_checkpoint = save_then_die
    try:
        with pytest.raises(KeyboardInterrupt):
            run_experiment(cfg, run_dir)
    finally:
        run_module.save_checkpoint = real_save
    assert read_sidecar(run_dir) == {"format": 2, "config_hash": config_hash(cfg), "step": 10}
    state = load_checkpoint(run_dir, config_hash(cfg))
    assert state["step"] == 10 and "momentum_buffer" in state["optimizer"]["state"][0]

    resumed = run_experiment(cfg, run_dir)
    straight = run_experiment(cfg, tmp_path / "straight")
    assert resumed["resumed_from_step"] == 10 and resumed["status"] == "completed"
    assert resumed["final_train_loss"] == straight["final_train_loss"]
    assert resumed["final_test_acc"] == straight["final_test_acc"]
    # the best validation accuracy so far is part of the state: a resumed run names the same best step
    assert state["best_val"]["best_val_step"] in (0, 10)
    validation = ("final_val_loss", "final_val_acc", "best_val_acc", "best_val_step")
    assert [resumed[key] for key in validation] == [straight[key] for key in validation]
    assert not (run_dir / CHECKPOINT).exists() and not (run_dir / CHECKPOINT_SIDECAR).exists()


def test_a_crafted_checkpoint_with_a_forged_sidecar_is_refused_and_never_executed(make_cfg, tmp_path):
    marker = tmp_path / "code-ran"
    cfg = make_cfg(*TINY, f"results_dir={tmp_path}")
    run_dir = tmp_path / "default" / "victim"
    _plant(run_dir, marker, config_hash(cfg))
    with pytest.raises(ConfigError, match="not a checkpoint normbench can load safely"):
        run_experiment(cfg, run_dir)
    assert not marker.exists()
    assert (run_dir / CHECKPOINT).exists()  # left for the user to inspect, not silently deleted


def test_the_cli_refuses_a_crafted_checkpoint_in_one_line(forked_normbench, make_cfg, tmp_path):
    marker = tmp_path / "code-ran"
    args = [*TINY, f"results_dir={tmp_path}"]
    cfg = make_cfg(*args)
    run_dir = tmp_path / "default" / run_name(cfg, args)
    _plant(run_dir, marker, config_hash(cfg))
    out = forked_normbench.train(tmp_path / "logs", *args)
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "not a checkpoint normbench can load safely" in errors[0]
    assert "Traceback" not in out.stderr
    assert not marker.exists()


def test_a_checkpoint_without_a_sidecar_is_never_opened(make_cfg, tmp_path):
    marker = tmp_path / "code-ran"
    cfg = make_cfg(*TINY)
    run_dir = tmp_path / "run"
    _plant(run_dir, marker)  # e.g. left by normbench 0.1, or planted: no sidecar vouches for it
    summary = run_experiment(cfg, run_dir)
    assert summary["status"] == "completed" and summary["resumed_from_step"] is None
    assert not marker.exists()
    train_loss = pd.read_csv(run_dir / "metrics.csv").query("split == 'train' and metric == 'loss'")
    assert train_loss.step.tolist() == list(range(1, 41))


def test_another_configurations_checkpoint_is_not_opened(make_cfg, tmp_path):
    marker = tmp_path / "code-ran"
    cfg = make_cfg(*TINY)
    run_dir = tmp_path / "run"
    _plant(run_dir, marker, "0123456789ab")
    assert load_checkpoint(run_dir, config_hash(cfg)) is None
    assert not marker.exists()


def test_a_finished_run_that_kept_its_checkpoint_loses_it_when_skipped(make_cfg, tmp_path):
    # A kill between writing summary.json and removing the checkpoint: the next launch skips the run and cleans up.
    cfg = make_cfg(*TINY)
    run_dir = tmp_path / "run"
    finished = run_experiment(cfg, run_dir)
    (run_dir / CHECKPOINT).write_bytes(b"left by a killed process")
    (run_dir / CHECKPOINT_SIDECAR).write_text("{}")
    again = run_experiment(cfg, run_dir)
    assert again["skipped"] and again["finished_at"] == finished["finished_at"]
    assert not (run_dir / CHECKPOINT).exists() and not (run_dir / CHECKPOINT_SIDECAR).exists()
