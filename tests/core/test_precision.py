"""trainer.precision (autocast, norms in fp32) and trainer.compile (torch.compile of the training forward)."""

import pytest
import torch

from normbench.engine.build import build
from normbench.engine.precision import MixedPrecision
from normbench.engine.run import run_experiment
from normbench.errors import ConfigError

from .conftest import read_run

FEW_STEPS = ["trainer.max_steps=12", "trainer.eval_interval=12", "trainer.log_interval=3", "progress=false"]


def _train_losses(make_cfg, tmp_path, name, *overrides):
    cfg = make_cfg(*FEW_STEPS, f"results_dir={tmp_path}", "device=cpu", *overrides)
    summary = run_experiment(cfg, tmp_path / name)
    metrics = read_run(tmp_path / name)[1]
    return summary, metrics.query("split == 'train' and metric == 'loss'").value.to_numpy()


@pytest.mark.parametrize("model", ["mlp", "cnn", "rnn"])
def test_bf16_trains_each_default_model_within_bf16_tolerance_of_fp32(make_cfg, tmp_path, model):
    fp32, fp32_losses = _train_losses(make_cfg, tmp_path, "fp32", f"model={model}")
    bf16, bf16_losses = _train_losses(make_cfg, tmp_path, "bf16", f"model={model}", "trainer.precision=bf16")
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    assert bf16["config_hash"] != fp32["config_hash"]  # different numbers: a different run
    # bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ≈ 0.2% per op): after 12 Adam steps the losses
    # (about 2.3 falling to ~1.6) agree within 0.05, and are not the fp32 numbers.
    assert abs(bf16_losses - fp32_losses).max() < 0.05
    assert (bf16_losses != fp32_losses).any()


def test_under_bf16_every_norm_computes_in_fp32(make_cfg):
    cfg = make_cfg("model=mlp", "norm=batch_renorm", "trainer.precision=bf16", "device=cpu")
    built = build(cfg)
    mixed = MixedPrecision(cfg.trainer.precision, torch.device("cpu"), built.norms)
    seen = []
    for norm in built.norms:
        norm.register_forward_hook(lambda module, args, out: seen.append((args[0].dtype, out.dtype)))
    with mixed.autocast():
        logits = built.model(built.data.x_train[:50])
    assert logits.dtype == torch.bfloat16  # the matmuls ran in bf16 ...
    assert seen and set(seen) == {(torch.float32, torch.float32)}  # ... every norm in fp32
    assert all(b.dtype == torch.float32 for b in built.model.buffers())  # running statistics too


def test_fp16_is_refused_on_cpu_with_what_is_allowed(make_cfg):
    with pytest.raises(ConfigError, match=r"trainer.precision=fp16 needs a CUDA device.*use trainer.precision=bf16"):
        build(make_cfg("trainer.precision=fp16", "device=cpu"))


def test_compiled_training_matches_eager(make_cfg, tmp_path):
    # A small MLP with BN, 12 steps: inductor reorders float arithmetic, so losses agree to float32 rounding
    # accumulated over the steps (1e-4 relative), not bit for bit. Evaluation runs eager in both. SGD, since
    # Adam divides by the root of tiny second moments and so magnifies rounding differences (measured: 4e-4
    # relative in the final test loss after 12 Adam steps on one thread).
    tiny = ["model.hidden=[16,16]", "batch_size=32", "optim=sgd"]
    eager, eager_losses = _train_losses(make_cfg, tmp_path, "eager", *tiny)
    compiled, compiled_losses = _train_losses(make_cfg, tmp_path, "compiled", *tiny, "trainer.compile=true")
    assert compiled["compiled"] and not eager["compiled"]
    assert compiled["config_hash"] == eager["config_hash"]
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-4)
    assert compiled["final_test_loss"] == pytest.approx(eager["final_test_loss"], rel=1e-4)
