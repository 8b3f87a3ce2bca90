"""Experiment trackers against the real libraries in their local modes (skipped where the extra is not installed):
the scalars, hyperparameters, final metrics and status each receives are TensorBoard's, read back with the
library's own client or record format and compared with metrics.csv."""

import importlib.util
import json

import pandas as pd
import pytest

from normbench.engine.run import run_experiment
from normbench.errors import ConfigError
from normbench.rundir.identity import config_hash, run_name

from .conftest import TINY

DIVERGING = ("optim=sgd", "optim.lr=3", "norm=none")  # diverges at step 17 on the default data


def _run(make_cfg, tmp_path, name, *overrides):
    cfg = make_cfg(*TINY, f"results_dir={tmp_path}", *overrides)
    return run_experiment(cfg, tmp_path / name), tmp_path / name


def _expected_points(run_dir) -> dict[str, dict[int, float]]:
    """What every sink is given, from metrics.csv: each log window's mean train loss at its last step, the test
    metrics at each eval point."""
    rows = pd.read_csv(run_dir / "metrics.csv")
    loss = rows.query("split == 'train' and metric == 'loss'")
    windows = loss.groupby((loss.step - 1) // 10)  # TINY logs every 10 steps
    return {"train/loss": dict(zip(windows.step.max(), windows.value.mean())),
            **{f"test/{metric}": dict(zip(group.step, group.value))
               for metric, group in rows.query("split == 'test'").groupby("metric")}}


def test_logger_and_objective_change_neither_a_runs_identity_nor_its_name(make_cfg):
    plain = config_hash(make_cfg(*TINY))
    assert config_hash(make_cfg(*TINY, "logger=mlflow", "logger.experiment_name=x")) == plain
    shown = ("logger=wandb", "logger.project=p", "objective=final_test_loss", "objective_direction=minimize")
    assert config_hash(make_cfg(*TINY, *shown)) == plain
    assert run_name(make_cfg(*TINY, *shown), shown) == run_name(make_cfg(*TINY), ())


def test_a_tracker_whose_library_is_missing_is_refused_in_one_line(make_cfg, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"^logger=wandb needs the wandb package, .*pip install normbench\[wandb\]$"):
        _run(make_cfg, tmp_path, "run", "logger=wandb")
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.slow
def test_mlflow_gets_tensorboards_scalars_params_final_metrics_and_status(make_cfg, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    completed, completed_dir = _run(make_cfg, tmp_path, "completed", "logger=mlflow", "norm=layer")
    diverged, _ = _run(make_cfg, tmp_path, "diverged", "logger=mlflow", *DIVERGING, "trainer.log_interval=40")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")  # the default store: <results_dir>/mlflow.db
    experiment = client.get_experiment_by_name("default")
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"completed", "diverged"}
    run = runs["completed"]
    assert run.info.status == "FINISHED" and run.data.tags["normbench.status"] == "completed"
    assert run.data.tags["normbench.config_hash"] == completed["config_hash"]
    assert run.data.params["norm"] == "layer" and run.data.params["trainer.max_steps"] == "40"
    for tag, points in _expected_points(completed_dir).items():
        history = client.get_metric_history(run.info.run_id, tag)
        assert {m.step: m.value for m in history} == pytest.approx(points, rel=1e-12)
    (final,) = client.get_metric_history(run.info.run_id, "hparam/final_test_acc")
    assert final.step == 40 and final.value == completed["final_test_acc"]
    failed = runs["diverged"]
    assert failed.info.status == "FAILED" and failed.data.tags["normbench.status"] == "diverged"
    steps = [m.step for m in client.get_metric_history(failed.info.run_id, "train/loss")]
    assert steps == list(range(1, diverged["diverged_step"]))  # the curve up to the divergence


def _wandb_records(path):
    """The records of a .wandb transaction log (LevelDB log framing: 32 KiB blocks of chunks with a 7-byte header),
    parsed with wandb's own protobuf classes."""
    from wandb.proto.wandb_internal_pb2 import Record

    data, block = path.read_bytes(), 32768
    position, pending = 7, b""  # the file starts with a 7-byte header of its own
    while position + 7 <= len(data):
        if block - position % block < 7:  # too little left in the block for a header: zero padding
            position += block - position % block
            continue
        length, kind = int.from_bytes(data[position + 4:position + 6], "little"), data[position + 6]
        pending += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # FULL, LAST
            yield Record.FromString(pending)
            pending = b""


def test_wandb_offline_gets_tensorboards_scalars_config_final_metrics_and_status(make_cfg, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    summary, run_dir = _run(make_cfg, tmp_path, "completed", "logger=wandb", "norm=layer")
    (log,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")  # offline: under the run directory
    history, config, exit_codes, summaries = {}, {}, [], {}
    for record in _wandb_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            step = record.history.step.num
            for item in record.history.item:
                history.setdefault(item.key or "/".join(item.nested_key), {})[step] = json.loads(item.value_json)
        elif kind in ("run", "config"):  # the config given to wandb.init comes with the run record
            updates = record.run.config.update if kind == "run" else record.config.update
            config.update({item.key: json.loads(item.value_json) for item in updates})
        elif kind == "summary":
            summaries.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                              for item in record.summary.update})
        elif kind == "exit":
            exit_codes.append(record.exit.exit_code)
    for tag, points in _expected_points(run_dir).items():
        assert history[tag] == pytest.approx(points, rel=1e-12)
    assert history["hparam/final_test_acc"] == {40: summary["final_test_acc"]}
    assert config["norm"] == "layer" and config["trainer.max_steps"] == 40 and config["seed"] == 0
    assert exit_codes == [0] and summaries["status"] == "completed"
