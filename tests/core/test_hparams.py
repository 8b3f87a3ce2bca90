"""TensorBoard's HParams view of a run, read back with TensorBoard's own plugin classes: every identity key,
the session status (failure for a diverged run), final metrics at the last step, and a diverged run's curve."""

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, backend_context, metadata, plugin_data_pb2

from normbench.engine.run import run_experiment
from normbench.rundir.contract import HPARAM_KEYS

from .conftest import TINY

DIVERGING = ("optim=sgd", "optim.lr=3", "norm=none")  # diverges at step 17 on the default data


def _run(make_cfg, tmp_path, name, *overrides):
    cfg = make_cfg(*TINY, f"results_dir={tmp_path}", *overrides)
    return run_experiment(cfg, tmp_path / name), tmp_path / name


def _events(run_dir):
    return EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0}).Reload()


def _plugin_data(accumulator, tag) -> plugin_data_pb2.HParamsPluginData:
    return plugin_data_pb2.HParamsPluginData.FromString(accumulator.SummaryMetadata(tag).plugin_data.content)


def test_a_diverged_run_is_a_failed_session_with_every_identity_key_and_its_curve(make_cfg, tmp_path):
    # log_interval 40: the run diverges before its first log point (steps 20 and 40 are eval points)
    summary, run_dir = _run(make_cfg, tmp_path, "diverged", *DIVERGING, "trainer.log_interval=40",
                            "optim.weight_decay=0.001")
    assert summary["status"] == "diverged" and 4 <= summary["diverged_step"] < 20  # a curve of several points
    events = _events(run_dir)
    start = _plugin_data(events, metadata.SESSION_START_INFO_TAG).session_start_info
    end = _plugin_data(events, metadata.SESSION_END_INFO_TAG).session_end_info
    assert end.status == api_pb2.STATUS_FAILURE
    logged = dict(start.hparams)
    assert set(HPARAM_KEYS) <= set(logged)
    # every key of the run's identity, not only the seven labels
    assert logged["optim.weight_decay"].number_value == pytest.approx(0.001)
    assert logged["trainer.max_steps"].number_value == 40
    assert logged["trainer.divergence_loss"].number_value == 1e4
    assert logged["norm.eps"].number_value == pytest.approx(1e-5)
    assert logged["deterministic"].bool_value is False
    assert logged["optimizer"].string_value == "sgd" and logged["seed"].number_value == 0
    assert "trainer.checkpoint_interval" not in logged and "progress" not in logged  # execution-only: not identity
    # the train-loss curve up to the divergence, step by step, equal to metrics.csv's
    csv = pd.read_csv(run_dir / "metrics.csv").query("split == 'train' and metric == 'loss'")
    curve = events.Scalars("train/loss")
    assert [point.step for point in curve] == csv.step.tolist() == list(range(1, summary["diverged_step"]))
    assert [point.value for point in curve] == pytest.approx(csv.value.tolist(), rel=1e-6)


def test_a_completed_run_is_a_successful_session_with_its_final_metrics_at_its_last_step(make_cfg, tmp_path):
    summary, run_dir = _run(make_cfg, tmp_path, "completed", "norm=layer")
    events = _events(run_dir)
    assert _plugin_data(events, metadata.SESSION_END_INFO_TAG).session_end_info.status == api_pb2.STATUS_SUCCESS
    (final,) = events.Scalars("hparam/final_test_acc")
    assert final.step == summary["steps"] == 40
    assert final.value == pytest.approx(summary["final_test_acc"])


def test_tensorboard_marks_the_hyperparameters_that_differ_between_runs(make_cfg, tmp_path):
    """TensorBoard's own backend builds the experiment from the runs' session start infos (no run writes one of
    its own): the columns whose values differ (seed, norm) are marked `differs`, the others are not."""
    _, a = _run(make_cfg, tmp_path, "a", "trainer.max_steps=2", "norm=layer", "seed=0")
    _, b = _run(make_cfg, tmp_path, "b", "trainer.max_steps=2", "norm=batch", "seed=1")
    content = {name: {tag: _events(run).SummaryMetadata(tag).plugin_data.content
                      for tag in _events(run).PluginTagToContent("hparams")} for name, run in (("a", a), ("b", b))}
    assert not any(metadata.EXPERIMENT_TAG in tags for tags in content.values())
    infos = {info.name: info for info in backend_context.Context(None)._compute_hparam_infos(content)}
    assert infos["seed"].differs and infos["norm"].differs
    assert {value.string_value for value in infos["norm"].domain_discrete.values} == {"layer", "batch"}
    assert not infos["optimizer"].differs and not infos["trainer.max_steps"].differs


def test_a_failed_run_is_a_failed_session(make_cfg, tmp_path, monkeypatch):
    from normbench.engine.trainer import Trainer

    evaluate = Trainer.evaluate

    def evaluate_then_fail(self):
        if self.step > 0:
            raise RuntimeError("out of memory (simulated)")
        evaluate(self)

    monkeypatch.setattr(Trainer, "evaluate", evaluate_then_fail)
    with pytest.raises(RuntimeError, match="simulated"):
        _run(make_cfg, tmp_path, "failed", "norm=layer")
    events = _events(tmp_path / "failed")
    assert _plugin_data(events, metadata.SESSION_END_INFO_TAG).session_end_info.status == api_pb2.STATUS_FAILURE
    assert [point.step for point in events.Scalars("train/loss")] == [10, 20]  # what it logged before failing
