"""trainer.cuda_graphs: the captured step's static-buffer form equals the trainer's eager step bit for bit (on a
CPU, without capture), runs that cannot be captured say why, and checkpoints keep the eager form.

The tests marked `gpu` need CUDA (skipped elsewhere): graphed and eager loss curves, a resumed graphed run,
the fallback reasons on a GPU, and no host sync inside the hot loop between log points."""

import contextlib
import dataclasses
import logging
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from torch import nn

from normbench.config.options import Augment
from normbench.config.schema import Precision, Switch
from normbench.config.validate import validate
from normbench.engine import trainer as trainer_module
from normbench.engine.build import Built, build
from normbench.engine.compiling import CompileChoice
from normbench.engine.cuda_graph import (
    WARMUP_STEPS,
    GraphedStep,
    GraphUse,
    StaticStep,
    graph_problem,
    window_capacity,
)
from normbench.engine.run import run_experiment
from normbench.engine.trainer import Settings, Trainer, _Window
from normbench.errors import ConfigError

from ..data.resume import interrupt_after_first_checkpoint
from .conftest import TINY

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CASES = [("mlp", "batch", None), ("cnn", "layer", 0.5)]  # (model, norm, trainer.grad_clip)


def _trainer(cfg) -> Trainer:
    built = build(cfg)
    return Trainer(built, Settings.from_config(cfg, built.options.norm), log=None, progress=None)


@pytest.mark.parametrize("model, norm, clip", CASES)
def test_the_static_buffer_step_equals_the_trainers_eager_step_bit_for_bit(make_cfg, model, norm, clip):
    """Two windows of 3 steps each (the second after the buffers were read and reset): the same losses, correct
    counts, gradient norms and parameters as the trainer's own step, on the same seed and batch order."""
    cfg = make_cfg(f"model={model}", f"norm={norm}", f"trainer.grad_clip={clip or 'null'}", "device=cpu")
    eager = _trainer(cfg)
    graphed = _trainer(cfg)
    static = StaticStep(graphed.model, graphed.optimizer, graphed.batches, graphed.mixed, clip, capacity=3,
                        batch_size=cfg.batch_size)
    for _ in range(2):
        window = _Window(1)
        norms = []
        for _ in range(3):
            norms.append(eager._train_step(window, want_grad_norm=True))
            static.load_batch()
            static()
            assert static.grad_norm.item() == norms[-1].item()
        assert static.read_window() == eager._window_results(window)
    assert static.pending == 0 and static.slot.item() == 0
    for ours, theirs in zip(graphed.model.state_dict().values(), eager.model.state_dict().values()):
        assert torch.equal(ours, theirs)


def test_the_window_buffers_refuse_more_steps_than_they_hold(make_cfg):
    trainer = _trainer(make_cfg("device=cpu"))
    static = StaticStep(trainer.model, trainer.optimizer, trainer.batches, trainer.mixed, None, capacity=2,
                        batch_size=100)
    for _ in range(2):
        static.load_batch()
        static()
    with pytest.raises(RuntimeError, match="2 steps without a log point"):
        static.load_batch()


class _EagerGraphedStep(GraphedStep):
    """GraphedStep's part the trainer sees, run eagerly: lets a CPU test drive the trainer's graphed path."""

    def step(self) -> None:
        self.static.load_batch()
        self.static()
        self.captured = True


def test_the_trainers_graphed_path_writes_the_eager_runs_metrics(make_cfg, tmp_path, monkeypatch):
    """The trainer with the static-buffer step in place of its own (as on CUDA, minus the capture) logs the same
    losses, accuracies, learning rates and gradient norms: windows, divergence checks and the schedule line up."""
    overrides = [*TINY, "device=cpu", "optim.warmup_steps=5", "optim.schedule=cosine", "trainer.grad_clip=1.0"]
    eager = run_experiment(make_cfg(*overrides), tmp_path / "eager")
    monkeypatch.setattr(trainer_module, "graph_problem", lambda *args: None)
    monkeypatch.setattr(trainer_module, "GraphedStep", _EagerGraphedStep)
    graphed = run_experiment(make_cfg(*overrides), tmp_path / "graphed")
    assert graphed["cuda_graphs"] and graphed["cuda_graphs_reason"] is None
    assert not eager["cuda_graphs"] and eager["cuda_graphs_reason"] == "needs a CUDA device"
    rows = [pd.read_csv(tmp_path / name / "metrics.csv") for name in ("eager", "graphed")]
    rows = [frame[frame.metric != "samples_per_s"].reset_index(drop=True) for frame in rows]
    assert set(rows[0].metric) >= {"loss", "acc", "lr", "grad_norm"}
    pd.testing.assert_frame_equal(rows[0], rows[1])
    assert graphed["final_train_loss"] == eager["final_train_loss"]


def test_cuda_graphs_true_on_a_cpu_runs_eagerly_and_says_why_in_one_line(make_cfg, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="normbench"):
        summary = run_experiment(make_cfg(*TINY, "device=cpu", "trainer.cuda_graphs=true"), tmp_path / "run")
    assert summary["status"] == "completed" and summary["cuda_graphs"] is False
    assert summary["cuda_graphs_reason"] == "needs a CUDA device"
    lines = [r.getMessage() for r in caplog.records if "cuda_graphs" in r.getMessage()]
    assert lines == ["trainer.cuda_graphs=true: running eagerly, needs a CUDA device"]


def test_cuda_graphs_auto_on_a_cpu_is_silent(make_cfg, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="normbench"):
        summary = run_experiment(make_cfg(*TINY, "device=cpu"), tmp_path / "run")
    assert summary["cuda_graphs"] is False
    assert not [r for r in caplog.records if "cuda_graphs" in r.getMessage()]


@pytest.mark.parametrize("value, parsed", [("auto", Switch.auto), (True, Switch.true),
                                           ("False", Switch.false)])
def test_cuda_graphs_takes_auto_true_false_as_hydra_reads_them(make_cfg, value, parsed):
    assert Switch.parse(value, "trainer.cuda_graphs") is parsed
    # Hydra reads `true` as a boolean: the string key keeps it (an enum key would refuse it).
    cfg = make_cfg(f"trainer.cuda_graphs={str(value).lower()}")
    assert Settings.from_config(cfg, validate(cfg).norm).cuda_graphs is parsed


def test_a_cuda_graphs_value_outside_auto_true_false_is_one_line_error():
    with pytest.raises(ConfigError, match=r"^trainer.cuda_graphs=maybe is not allowed; choose one of: auto, true, "
                                          r"false$"):
        Switch.parse("maybe", "trainer.cuda_graphs")


# --- which runs can be captured (decided on the CPU, with a CUDA device faked into the built run) ------------

@pytest.fixture
def capturable(make_cfg):
    """A built default run (MLP, BN, Adam) and its settings, as if on CUDA; `variant(...)` changes one thing."""

    def variant(*overrides, **changes):
        cfg = make_cfg("device=cpu", *overrides)
        built = dataclasses.replace(build(cfg), device=torch.device("cuda", 0))
        built = dataclasses.replace(built, **{k: v for k, v in changes.items() if k in _BUILT_FIELDS})
        settings = dataclasses.replace(Settings.from_config(cfg, built.options.norm),
                                       **{k: v for k, v in changes.items() if k not in _BUILT_FIELDS})
        return built, settings

    return variant


_BUILT_FIELDS = {field.name for field in dataclasses.fields(Built)}


def _with_option(built, group, **values):
    options = dataclasses.replace(built.options, **{group: dataclasses.replace(getattr(built.options, group),
                                                                                **values)})
    return dataclasses.replace(built, options=options)


def test_the_default_run_on_cuda_is_capturable(capturable):
    assert graph_problem(Switch.auto, *capturable()) is None
    assert graph_problem(Switch.true, *capturable("model=cnn", "norm=layer", "trainer.grad_clip=1")) is None
    assert graph_problem(Switch.auto, *capturable("optim=sgd")) is None  # at a constant rate
    assert graph_problem(Switch.auto, *capturable(precision=Precision.bf16)) is None


def test_runs_that_cannot_be_captured_say_why(capturable):
    built, settings = capturable()
    reasons = {
        "off": graph_problem(Switch.false, built, settings),
        "cpu": graph_problem(Switch.true, dataclasses.replace(built, device=torch.device("cpu")), settings),
        "augment": graph_problem(Switch.true, _with_option(built, "data", augment=Augment.standard), settings),
        "streamed": graph_problem(Switch.true, *capturable(streamed=True)),
        "batches": graph_problem(Switch.true, *capturable(batches=object())),
        "compile": graph_problem(Switch.true, *capturable(compile=CompileChoice(True, "trainer.compile=true"))),
        "fp16": graph_problem(Switch.true, *capturable(precision=Precision.fp16)),
        "probes": graph_problem(Switch.true, *capturable(probe_every=5)),
        "factory": graph_problem(Switch.true, _with_option(built, "model", name="factory"), settings),
        "renorm": graph_problem(Switch.true, *capturable("norm=batch_renorm")),
        "dropout": graph_problem(Switch.true, *capturable(model=nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)))),
        "sgd schedule": graph_problem(Switch.true, *capturable("optim=sgd", "optim.schedule=cosine")),
        "sgd warm-up": graph_problem(Switch.true, *capturable("optim=sgd", "optim.warmup_steps=5")),
        "rmsprop": graph_problem(Switch.true, *capturable(
            optimizer=torch.optim.RMSprop(nn.Linear(2, 2).parameters()))),
    }
    expected = {"off": "trainer.cuda_graphs=false", "cpu": "needs a CUDA device", "augment": "data.augment=standard",
                "streamed": "data.max_device_bytes", "batches": "batches of kind object", "compile": "trainer.compile",
                "fp16": "trainer.precision=fp16", "probes": "probe.every", "factory": "model=factory",
                "renorm": "BatchRenorm", "dropout": "dropout (p=0.1)", "sgd schedule": "optim=sgd",
                "sgd warm-up": "optim=sgd", "rmsprop": "RMSprop"}
    for case, reason in reasons.items():
        assert reason is not None and expected[case] in reason and "\n" not in reason, (case, reason)


def test_the_window_buffers_hold_the_longest_window():
    assert window_capacity(100, 25, 250, 0) == 25  # log points every 25 steps
    assert window_capacity(100, 0, 30, 20) == 20  # no log interval: eval and checkpoint points close windows
    assert window_capacity(10, 25, 250, 0) == 10  # a run shorter than any interval is one window
    assert window_capacity(100, 0, 0, 0) == 100


def test_checkpoints_keep_the_eager_form_of_a_captured_optimizer(make_cfg):
    """A captured Adam's step counts live on the device and its groups say capturable: the checkpoint has CPU
    step counts and capturable off (so an eager run resumes it), and the live optimizer is left as it was."""
    trainer = _trainer(make_cfg("device=cpu"))
    trainer._train_step(_Window(1), want_grad_norm=False)
    graphed = GraphedStep(StaticStep(trainer.model, trainer.optimizer, trainer.batches, trainer.mixed, None, 4, 100))
    for group in trainer.optimizer.param_groups:
        group["capturable"] = True  # as _prepare sets it on CUDA
    live_step = trainer.optimizer.state[trainer.params[0]]["step"]
    exported = graphed.export_optimizer_state(trainer.optimizer.state_dict())
    assert all(group["capturable"] is False for group in exported["param_groups"])
    assert all(values["step"].device.type == "cpu" for values in exported["state"].values())
    assert trainer.optimizer.param_groups[0]["capturable"] is True
    assert trainer.optimizer.state[trainer.params[0]]["step"] is live_step  # exported copies, not the live state
    fresh = _trainer(make_cfg("device=cpu"))
    fresh.optimizer.load_state_dict(exported)
    assert fresh.optimizer.param_groups[0]["capturable"] is False


def test_loading_a_checkpoint_makes_the_graphed_step_capture_again(make_cfg, monkeypatch):
    monkeypatch.setattr(trainer_module, "graph_problem", lambda *args: None)
    trainer = _trainer(make_cfg("device=cpu"))
    trainer.graphed.graph, trainer.graphed.prepared, trainer.graphed.warmed = object(), True, 3
    trainer.load_state_dict(trainer.state_dict())
    assert (trainer.graphed.graph, trainer.graphed.prepared, trainer.graphed.warmed) == (None, False, 0)


def test_graph_use_reports_a_run_that_ended_before_its_capture():
    step = GraphedStep.__new__(GraphedStep)
    step.failure, step.captured = None, False
    assert not step.use.active and "before the capture" in step.use.reason
    step.captured = True
    assert step.use == GraphUse(True)
    step.failure = "capture failed: operation not permitted when stream is capturing"
    assert step.use == GraphUse(False, step.failure)


# --- on a CUDA device only ----------------------------------------------------------------------------------

GPU_STEPS = ["trainer.max_steps=30", "trainer.eval_interval=30", "trainer.log_interval=5", "progress=false",
             "device=cuda"]
# Tolerance of graphed against eager losses: a capturable Adam computes its bias corrections in float32 on the
# device, eager Adam in float64 on the host; 30 steps of that stay well inside 1e-4 relative. The GRU's recurrence
# and bf16's 8-bit mantissa amplify such differences: looser bounds there.
RTOL, ATOL = 1e-4, 1e-6
GPU_CASES = [("mlp", "batch", None, "trainer.precision=fp32", RTOL), ("cnn", "layer", 0.5, "trainer.precision=fp32", RTOL),
             ("rnn", "layer", None, "trainer.precision=fp32", 1e-3), ("mlp", "batch", None, "trainer.precision=bf16", 2e-2)]


def _losses(run_dir):
    metrics = pd.read_csv(run_dir / "metrics.csv")
    return metrics[(metrics.split == "train") & (metrics.metric == "loss")].set_index("step")["value"]


@gpu
@pytest.mark.parametrize("model, norm, clip, precision, rtol", GPU_CASES)
def test_a_graphed_run_follows_the_eager_loss_curve(make_cfg, tmp_path, model, norm, clip, precision, rtol):
    overrides = [*GPU_STEPS, "deterministic=true", f"model={model}", f"norm={norm}",
                 f"trainer.grad_clip={clip or 'null'}", precision]
    eager = run_experiment(make_cfg(*overrides, "trainer.cuda_graphs=false"), tmp_path / "eager")
    graphed = run_experiment(make_cfg(*overrides, "trainer.cuda_graphs=true"), tmp_path / "graphed")
    assert graphed["cuda_graphs"] is True and eager["cuda_graphs"] is False, graphed["cuda_graphs_reason"]
    a, b = _losses(tmp_path / "eager"), _losses(tmp_path / "graphed")
    assert len(a) == 30 and list(a.index) == list(b.index)
    torch.testing.assert_close(torch.tensor(b.values), torch.tensor(a.values), rtol=rtol, atol=ATOL)
    assert abs(graphed["final_train_acc"] - eager["final_train_acc"]) <= 0.02  # 10 of the last window's 500


@gpu
def test_a_resumed_graphed_run_equals_an_uninterrupted_one(make_cfg, tmp_path, monkeypatch):
    """Interrupted after its checkpoint at step 10 (the graph captured at step 4), resumed: the optimizer's
    state loads before a new capture, and the loss curve continues as if nothing happened."""
    overrides = [*GPU_STEPS, "deterministic=true", "trainer.cuda_graphs=true", "trainer.checkpoint_interval=10",
                 "optim.schedule=cosine"]
    whole = run_experiment(make_cfg(*overrides), tmp_path / "whole")
    interrupt_after_first_checkpoint(make_cfg(*overrides), tmp_path / "resumed", monkeypatch)
    resumed = run_experiment(make_cfg(*overrides), tmp_path / "resumed")
    assert resumed["resumed_from_step"] == 10 and resumed["cuda_graphs"] is True
    a, b = _losses(tmp_path / "whole"), _losses(tmp_path / "resumed")
    assert list(a.index) == list(b.index)
    torch.testing.assert_close(torch.tensor(b.values), torch.tensor(a.values), rtol=RTOL, atol=ATOL)
    assert whole["cuda_graphs"] is True


@gpu
@pytest.mark.parametrize("override, reason", [("trainer.precision=fp16", "trainer.precision=fp16"),
                                              ("probe.every=5", "probe.every"),
                                              ("data.max_device_bytes=0", "data.max_device_bytes")])
def test_a_run_that_cannot_be_captured_on_cuda_runs_eagerly_and_says_why(make_cfg, tmp_path, caplog, override,
                                                                         reason):
    with caplog.at_level(logging.WARNING, logger="normbench"):
        summary = run_experiment(make_cfg(*GPU_STEPS, "trainer.cuda_graphs=true", override),
                                 tmp_path / "run")
    assert summary["status"] == "completed" and summary["cuda_graphs"] is False
    assert reason in summary["cuda_graphs_reason"]
    assert [r.getMessage() for r in caplog.records if "cuda_graphs" in r.getMessage()] == [
        f"trainer.cuda_graphs=true: running eagerly, {summary['cuda_graphs_reason']}"]


@gpu
@pytest.mark.parametrize("graphs", ["false", "true"])
def test_no_host_sync_between_log_points(make_cfg, tmp_path, monkeypatch, graphs):
    """Steps that are neither log points nor the first of an epoch (which copies its permutation to the device)
    run under torch.cuda.set_sync_debug_mode("error"): a host sync inside the hot loop fails the run (issue 11,
    item 2). With graphs on, the steps checked are replays."""
    checked = []

    def guarded(step):
        def run(self, window, *args):
            at_log = bool(args and args[0]) or self.step % self.settings.log_interval == 0
            epoch_start = (self.step - 1) % self.batches.per_epoch == 0
            quiet = not at_log and not epoch_start and self.step > WARMUP_STEPS + 1  # replays, with graphs on
            if not quiet:
                return step(self, window, *args)
            torch.cuda.set_sync_debug_mode("error")
            try:
                return step(self, window, *args)
            finally:
                torch.cuda.set_sync_debug_mode("default")
                checked.append(self.step)
        return run

    monkeypatch.setattr(Trainer, "_train_step", guarded(Trainer._train_step))
    monkeypatch.setattr(Trainer, "_graphed_train_step", guarded(Trainer._graphed_train_step))
    summary = run_experiment(make_cfg(*GPU_STEPS, "trainer.log_interval=10",
                                      f"trainer.cuda_graphs={graphs}"), tmp_path / "run")
    assert summary["status"] == "completed" and summary["cuda_graphs"] is (graphs == "true")
    assert len(checked) >= 15


# --- GraphedStep's sequence (warm-up, capture, replays, fallback), with torch.cuda faked on the CPU -----------

class _Recorder:
    """Fakes of the torch.cuda pieces GraphedStep uses, and a fake static step: each call is an event."""

    def __init__(self, fail_capture: bool = False):
        self.events, self.capturing, self.fail_capture = [], False, fail_capture
        recorder = self

        class Graph:
            def replay(self):
                recorder.events.append(("replay", recorder.group_lr_seen()))

        self.Graph = Graph

    def group_lr_seen(self):
        return round(float(self.graphed.lr[0]), 6) if self.graphed.lr else None

    @contextlib.contextmanager
    def graph(self, graph):
        self.capturing = True
        try:
            yield
            if self.fail_capture:
                raise RuntimeError("operation not permitted when stream is capturing\nCUDA kernel errors ...")
        finally:
            self.capturing = False


class _FakeStatic:
    def __init__(self, recorder, optimizer):
        self.recorder, self.optimizer, self.index = recorder, optimizer, torch.zeros(2, dtype=torch.int64)

    def load_batch(self):
        self.recorder.events.append("load")

    def __call__(self):
        self.recorder.events.append("eager")

    def compute(self):
        rate = self.optimizer.param_groups[0]["lr"]
        self.recorder.events.append(("compute", self.recorder.capturing, isinstance(rate, torch.Tensor)))


@pytest.fixture
def fake_cuda(monkeypatch):
    def make(fail_capture=False):
        recorder = _Recorder(fail_capture)
        monkeypatch.setattr(torch.cuda, "Stream", lambda: SimpleNamespace(wait_stream=lambda other: None))
        monkeypatch.setattr(torch.cuda, "current_stream", lambda: SimpleNamespace(wait_stream=lambda other: None))
        monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
        monkeypatch.setattr(torch.cuda, "CUDAGraph", recorder.Graph)
        monkeypatch.setattr(torch.cuda, "graph", recorder.graph)
        monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
        monkeypatch.setattr(torch.cuda, "set_device", lambda device: recorder.events.append(("device", str(device))))
        param = nn.Parameter(torch.ones(2))
        optimizer = torch.optim.Adam([param], lr=0.5)
        param.grad = torch.ones(2)
        optimizer.step()  # state exists, its step count on the CPU, as after a resume
        recorder.graphed = GraphedStep(_FakeStatic(recorder, optimizer))
        return recorder, optimizer, param

    return make


def test_the_graphed_step_warms_up_captures_once_then_replays_at_the_schedules_rate(fake_cuda):
    recorder, optimizer, param = fake_cuda()
    graphed = recorder.graphed
    for step in range(1, 7):
        optimizer.param_groups[0]["lr"] = 0.1 * step  # the scheduler moves the float rate between steps
        graphed.step()
        assert not isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)  # float outside the capture
        if step == WARMUP_STEPS:
            assert graphed.use == GraphUse(False, f"the run ended within its first {WARMUP_STEPS} steps, before "
                                                  f"the capture")
    assert recorder.events == [
        ("device", "cpu"),  # the run's device made the current one (the fake static step's is the CPU)
        "load", "eager", "load", "eager", "load", "eager",  # warm-up: real, eager steps
        "load", ("compute", True, True), ("replay", 0.4),  # the capture reads the rate from a tensor; one replay
        "load", ("replay", 0.5), "load", ("replay", 0.6)]  # each replay at the step's own rate
    assert graphed.use == GraphUse(True)
    assert optimizer.param_groups[0]["capturable"] is True
    assert optimizer.state[param]["step"].dtype == torch.float32


def test_a_failed_capture_falls_back_to_eager_steps_and_says_why(fake_cuda, caplog):
    recorder, optimizer, _ = fake_cuda(fail_capture=True)
    graphed = recorder.graphed
    with caplog.at_level(logging.WARNING, logger="normbench"):
        for _ in range(WARMUP_STEPS + 2):
            graphed.step()
    assert recorder.events[-5:] == ["load", ("compute", True, True), "eager", "load", "eager"]
    reason = "capture failed: operation not permitted when stream is capturing"
    assert graphed.use == GraphUse(False, reason)
    assert [r.getMessage() for r in caplog.records] == [f"trainer.cuda_graphs: running eagerly, {reason}"]
    assert optimizer.param_groups[0]["lr"] == 0.5  # the float rate is back


def test_after_a_reset_the_graphed_step_warms_up_and_captures_again(fake_cuda):
    recorder, _, _ = fake_cuda()
    graphed = recorder.graphed
    for _ in range(WARMUP_STEPS + 1):
        graphed.step()
    graphed.reset()
    recorder.events.clear()
    for _ in range(WARMUP_STEPS + 1):
        graphed.step()
    assert recorder.events == [("device", "cpu"), *["load", "eager"] * WARMUP_STEPS, "load", ("compute", True, True),
                               ("replay", 0.5)]
