"""trainer.compile=auto: compile the models with a loop unrolled in Python (the normalized RNN) on a CPU,
nothing else; an explicit true/false always wins."""

import pytest
import torch
from torch._inductor.exc import CppCompileError

from normbench.config.schema import Switch
from normbench.engine import compiling
from normbench.engine.build import build
from normbench.engine.compiling import CompileChoice, choose_compile, explain_compile_failure
from normbench.engine.run import run_experiment
from normbench.errors import CompileFailed, ConfigError

from .conftest import read_run, run_cli

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)  # a device object only: nothing runs on it


def _model(make_cfg, *overrides):
    return build(make_cfg(*overrides, "device=cpu")).model


def test_auto_compiles_a_normalized_recurrence_on_a_cpu_only(make_cfg):
    rnn = _model(make_cfg, "model=rnn", "norm=layer")
    assert choose_compile(Switch.auto, rnn, CPU).compile
    assert not choose_compile(Switch.auto, rnn, CUDA).compile  # CUDA: graphs capture the launches instead
    # PyTorch's fused cell (norm=none) and models without a Python loop gain nothing from compiling.
    assert not choose_compile(Switch.auto, _model(make_cfg, "model=rnn", "norm=none"), CPU).compile
    for model in ("mlp", "cnn"):
        assert not choose_compile(Switch.auto, _model(make_cfg, f"model={model}", "norm=batch"), CPU).compile


@pytest.mark.parametrize("setting", [Switch.true, Switch.false])
def test_an_explicit_setting_wins_over_auto(make_cfg, setting):
    for overrides in (("model=rnn", "norm=layer"), ("model=mlp",)):
        choice = choose_compile(setting, _model(make_cfg, *overrides), CPU)
        assert choice.compile is (setting is Switch.true) and choice.reason == f"trainer.compile={setting.value}"


@pytest.mark.parametrize("value", ["false", "true", "auto"])
def test_compile_takes_auto_true_false_and_configs_saved_with_booleans(make_cfg, value):
    # Runs saved before auto existed hold `compile: false` (a boolean): they compose and validate as before.
    assert build(make_cfg(f"trainer.compile={value}", "model=mlp", "device=cpu")).compile.compile is (value == "true")


def test_a_compile_value_outside_auto_true_false_is_a_one_line_error(make_cfg):
    with pytest.raises(ConfigError, match=r"^trainer.compile=maybe is not allowed; choose one of: auto, true, false$"):
        build(make_cfg("trainer.compile=maybe", "device=cpu"))


def test_auto_stays_eager_without_a_cxx_compiler_and_says_why(make_cfg, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)
    choice = choose_compile(Switch.auto, _model(make_cfg, "model=rnn", "norm=layer"), CPU)
    assert not choice.compile
    assert "needs a C++ compiler" in choice.reason and "g++" in choice.reason and "\n" not in choice.reason


def test_auto_compiled_recurrence_trains_as_eager_does(make_cfg, tmp_path):
    # A small normalized GRU with per-step batch statistics (running statistics updated inside the compiled
    # graph), 8 SGD steps: the losses and the eval-mode test loss (which reads those running statistics) agree
    # with eager to float32 rounding. SGD: Adam magnifies rounding differences (see test_precision).
    tiny = ["model=rnn", "norm=batch", "model.hidden_size=3", "data=synthetic", "data.shape=[2,6]", "batch_size=16",
            "optim=sgd", "trainer.max_steps=8", "trainer.eval_interval=8", "trainer.log_interval=2", "progress=false",
            "device=cpu", f"results_dir={tmp_path}"]
    runs = {}
    for name, setting in (("eager", "false"), ("auto", "auto")):
        summary = run_experiment(make_cfg(*tiny, f"trainer.compile={setting}"), tmp_path / name)
        losses = read_run(tmp_path / name)[1].query("split == 'train' and metric == 'loss'").value.to_numpy()
        runs[name] = summary, losses
    (eager, eager_losses), (auto, auto_losses) = runs["eager"], runs["auto"]
    assert auto["compiled"] and not eager["compiled"]
    assert auto["config_hash"] == eager["config_hash"]  # how a run is carried out is not what it is
    assert len(auto_losses) == 8 and auto_losses == pytest.approx(eager_losses, rel=1e-5)
    assert auto["final_test_loss"] == pytest.approx(eager["final_test_loss"], rel=1e-5)


def test_a_compiler_failure_fails_the_run_in_one_line_with_the_way_out(make_cfg, tmp_path, monkeypatch):
    # A machine whose toolchain cannot build inductor's kernels (no OpenMP headers, say): the C++ compiler's
    # error surfaces at the first compiled step, pages long. The run fails with one line naming the way out.
    def broken_compile(model):
        def forward(x):
            raise CppCompileError(["g++", "kernel.cpp"], "kernel.cpp:2:10: fatal error: omp.h: No such file")
        return forward

    monkeypatch.setattr(torch, "compile", broken_compile)
    cfg = make_cfg("trainer.compile=true", "trainer.max_steps=3", "progress=false", "device=cpu",
                   f"results_dir={tmp_path}")
    with pytest.raises(CompileFailed) as failed:
        run_experiment(cfg, tmp_path / "run")
    message = str(failed.value)
    assert "\n" not in message and message.startswith("trainer.compile=true: torch.compile could not compile")
    assert "omp.h: No such file" in message and message.endswith("trainer.compile=false trains eagerly")
    summary = read_run(tmp_path / "run")[0]
    assert summary["status"] == "failed" and "trainer.compile=false trains eagerly" in summary["error"]


def test_errors_that_are_not_the_compilers_pass_through_unchanged():
    compiled = CompileChoice(True, "trainer.compile=auto: compiling")
    error = ValueError("a bug in a model")
    assert explain_compile_failure(error, compiled) is error
    wrapped = RuntimeError("raised while compiling")
    wrapped.__cause__ = CppCompileError(["c++"], "boom")
    assert isinstance(explain_compile_failure(wrapped, compiled), CompileFailed)  # the cause is the compiler's
    assert explain_compile_failure(wrapped, CompileChoice(False, "trainer.compile=false")) is wrapped  # eager run


def test_the_cli_says_in_one_line_that_this_machine_cannot_compile(tmp_path):
    # A real failure, not a fake: inductor finds no working C++ compiler in $CXX.
    out = run_cli("train", "model=mlp", "model.hidden=[8]", "trainer.compile=true", "trainer.max_steps=2",
                  "device=cpu", "progress=false", f"results_dir={tmp_path / 'results'}",
                  env={"CXX": "/bin/false", "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")})
    assert out.returncode == 2
    error = [line for line in out.stderr.splitlines() if line.startswith("normbench: error:")]
    assert len(error) == 1 and "Traceback" not in out.stderr
    assert "trainer.compile=true: torch.compile could not compile the model on this machine" in error[0]
    assert "C++ compiler" in error[0] and "TORCHDYNAMO_VERBOSE" not in error[0]
    assert error[0].endswith("trainer.compile=false trains eagerly")
