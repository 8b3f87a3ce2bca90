"""`normbench bench`: normbench's trainer against a bare PyTorch loop on the same model, data and steps.

Both run in this process, alternately, best of `--repeats`: the ratio of steps/s survives a noisy
machine where absolute times do not. The bare loop is the least a person would write: sample a batch,
forward, cross-entropy, backward, step. normbench adds evaluation, logging, divergence checks.

Cases are MODEL:NORM. mlp, cnn and rnn are normbench's models on MNIST-1D (batch 100); resnet18 is
torchvision's ResNet-18 with the CIFAR stem (`model=torchvision model.arch=resnet18 model.small_input=true`)
on CIFAR-shaped synthetic data (3x32x32, 10 classes, batch 32), where torchvision can be imported.
"""

import argparse
import tempfile
import time
from pathlib import Path

# model -> (its overrides, its share of --steps: the recurrent models and ResNet-18 take longer per step)
MODELS = {
    "mlp": (["model=mlp"], 1),
    "cnn": (["model=cnn"], 1),
    "rnn": (["model=rnn"], 1 / 3),
    # The test set is one batch: evaluated at step 0 and at the end, as every run is, it costs little beside
    # the steps even in a short CPU measurement.
    "resnet18": (["model=torchvision", "model.arch=resnet18", "model.small_input=true", "data=synthetic",
                  "data.shape=[3,32,32]", "data.num_train=1024", "data.num_test=32", "batch_size=32"], 1 / 25),
}
CASES = [("mlp", "batch"), ("mlp", "layer"), ("cnn", "batch"), ("cnn", "layer"), ("rnn", "batch"), ("rnn", "layer"),
         ("resnet18", "batch")]


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
    parser.add_argument("--steps", type=int, default=1000,
                        help="training steps per measurement (RNN: a third; ResNet-18: a 25th)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating measurements; the best counts")
    parser.add_argument("--device", default="cpu", help="where both loops run: cpu, cuda, cuda:N, mps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (num_threads; 0: torch's default)")
    parser.add_argument("--cases", nargs="*", default=[f"{m}:{n}" for m, n in CASES],
                        help=f"MODEL:NORM pairs, MODEL one of {', '.join(MODELS)}")
    args = parser.parse_args(argv)

    from normbench.errors import ConfigError

    print(f"{'model':8} {'norm':6} {'bare steps/s':>13} {'normbench steps/s':>18} {'ratio':>6}")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, case in enumerate(args.cases):
            model, norm = case.split(":")
            overrides, share = MODELS[model]
            steps = max(1, round(args.steps * share))
            cfg = _compose([*overrides, f"norm={norm}", f"device={args.device}", f"trainer.max_steps={steps}",
                            f"num_threads={args.threads}", "progress=false", "force=true", f"results_dir={tmp}"])
            bare, ours = 0.0, 0.0
            try:
                for _ in range(args.repeats):
                    bare = max(bare, bare_loop_steps_per_s(cfg, steps))
                    ours = max(ours, normbench_steps_per_s(cfg, Path(tmp) / f"run{index}"))
            except ConfigError as error:  # e.g. a torchvision that cannot load beside this torch
                print(f"{model:8} {norm:6} skipped: {error}", flush=True)
                continue
            ratios.append(ours / bare)
            print(f"{model:8} {norm:6} {bare:13.2f} {ours:18.2f} {ours / bare:6.2f}", flush=True)
    if ratios:
        print(f"geometric mean ratio: {_geometric_mean(ratios):.2f} (target >= 0.90)")
    return 0


def _geometric_mean(values: list[float]) -> float:
    import math

    return math.exp(sum(math.log(v) for v in values) / len(values))
