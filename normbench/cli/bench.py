"""`normbench bench`: normbench's trainer against a bare PyTorch loop on the same model, data and steps.

Both run in this process, alternately, best of `--repeats`: the ratio of steps/s survives a noisy
machine where absolute times do not. The bare loop is the least a person would write: sample a batch,
forward, cross-entropy, backward, step. normbench adds evaluation, logging, divergence checks.
"""

import argparse
import tempfile
import time
from pathlib import Path

CASES = [("mlp", "batch"), ("mlp", "layer"), ("cnn", "batch"), ("cnn", "layer"), ("rnn", "batch"), ("rnn", "layer")]


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    import normbench.cli.train  # noqa: F401  (registers configs and the run-name resolver)
    from normbench.config.paths import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=overrides)


def bare_loop_steps_per_s(cfg, steps: int) -> float:
    import torch
    import torch.nn.functional as F

    from normbench.engine.build import build

    built = build(cfg)
    model, optimizer, x, y = built.model, built.optimizer, built.data.x_train, built.data.y_train
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(len(x), (cfg.batch_size,), device=x.device)
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    loss.item()  # wait for the device
    return steps / (time.perf_counter() - start)


def normbench_steps_per_s(cfg, out: Path) -> float:
    from normbench.engine.run import run_experiment

    summary = run_experiment(cfg, out)
    return summary["steps_per_s"]


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, and every option's default in its help."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="normbench bench", description=__doc__, formatter_class=_HelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="training steps per measurement (RNN: a third)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating measurements; the best counts")
    parser.add_argument("--device", default="cpu", help="where both loops run: cpu, cuda, cuda:N, mps")
    parser.add_argument("--cases", nargs="*", default=[f"{m}:{n}" for m, n in CASES], help="model:norm pairs")
    args = parser.parse_args(argv)

    print(f"{'model':6} {'norm':6} {'bare steps/s':>13} {'normbench steps/s':>18} {'ratio':>6}")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, case in enumerate(args.cases):
            model, norm = case.split(":")
            steps = args.steps // 3 if model == "rnn" else args.steps
            cfg = _compose([f"model={model}", f"norm={norm}", f"device={args.device}", f"trainer.max_steps={steps}",
                            "progress=false", "force=true", f"results_dir={tmp}"])
            bare, ours = 0.0, 0.0
            for _ in range(args.repeats):
                bare = max(bare, bare_loop_steps_per_s(cfg, steps))
                ours = max(ours, normbench_steps_per_s(cfg, Path(tmp) / f"run{index}"))
            ratios.append(ours / bare)
            print(f"{model:6} {norm:6} {bare:13.0f} {ours:18.0f} {ours / bare:6.2f}", flush=True)
    print(f"geometric mean ratio: {_geometric_mean(ratios):.2f} (target >= 0.90)")
    return 0


def _geometric_mean(values: list[float]) -> float:
    import math

    return math.exp(sum(math.log(v) for v in values) / len(values))
