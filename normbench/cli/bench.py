"""`normbench bench`: normbench's trainer against a bare PyTorch loop on the same model, data and steps.

Both run in this process, alternately, best of `--repeats`: the ratio of steps/s survives a noisy
machine where absolute times do not. The bare loop is the least a person would write: sample a batch,
forward, cross-entropy, backward, step. normbench adds evaluation, logging, divergence checks.

On CUDA each case also measures the bare step captured once in a CUDA graph and replayed (PyTorch's
whole-network capture recipe), and normbench with `trainer.cuda_graphs` off and on; on a CPU those columns
are absent (CUDA graphs need a CUDA device).

Cases are MODEL:NORM. mlp, cnn and rnn are normbench's models on MNIST-1D (batch 100); resnet18 is
torchvision's ResNet-18 with the CIFAR stem (`model=torchvision model.arch=resnet18 model.small_input=true`)
on CIFAR-shaped synthetic data (3x32x32, 10 classes, batch 32), where torchvision can be imported.
"""

import argparse
import tempfile
import time
import warnings
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
# What each case can measure (column -> its heading); `columns` picks them by device.
COLUMNS = {"bare": "bare", "bare_graph": "bare_graph", "normbench": "normbench",
           "normbench_eager": "nb_eager", "normbench_graphs": "nb_graphs"}
GRAPH_COLUMNS = ("bare_graph", "normbench_eager", "normbench_graphs")
# The ratios printed on CUDA (numerator, denominator); on a CPU the one ratio is normbench / bare.
CUDA_RATIOS = (("normbench_eager", "bare"), ("normbench_graphs", "bare_graph"), ("normbench_graphs", "bare"))
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


def bare_graph_loop_steps_per_s(cfg, steps: int) -> float:
    """The bare loop's step captured once in a CUDA graph and replayed: warm-up steps on a side stream, gradients
    set to None before the capture, a capturable Adam (torch.cuda.graphs docs). The batch is drawn inside the
    graph (the CUDA generator works there), as the bare loop draws it."""
    import torch
    import torch.nn.functional as F

    from normbench.engine.build import build

    built = build(cfg)
    model, optimizer, x, y = built.model, built.optimizer, built.data.x_train, built.data.y_train
    for group in optimizer.param_groups:
        group["capturable"] = True  # Adam's step counts on the device (SGD has no such state)
    model.train()

    def step():
        index = torch.randint(len(x), (cfg.batch_size,), device=x.device)
        loss = F.cross_entropy(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
        return loss

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "capturable=True ... running without graph capture": the warm-up
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream().wait_stream(side)
    optimizer.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        loss = step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        graph.replay()
    loss.item()  # wait for the device
    return steps / (time.perf_counter() - start)


def normbench_steps_per_s(cfg, out: Path) -> float:
    from normbench.engine.run import run_experiment

    summary = run_experiment(cfg, out)
    if cfg.trainer.cuda_graphs == "true" and not summary["cuda_graphs"]:
        print(f"  (normbench ran without CUDA graphs: {summary['cuda_graphs_reason']})", flush=True)
    return summary["steps_per_s"]


def columns(device: str) -> tuple[str, ...]:
    """What each case measures on `device`: with CUDA, the bare loop eager and in a graph and normbench with
    graphs off and on; elsewhere the bare loop and normbench (its default, eager there)."""
    if device.split(":")[0] == "cuda":
        return ("bare", *GRAPH_COLUMNS)
    return ("bare", "normbench")


def ratios(device: str) -> tuple[tuple[str, str], ...]:
    return CUDA_RATIOS if device.split(":")[0] == "cuda" else (("normbench", "bare"),)


def _measure(column: str, base: list[str], steps: int, out: Path) -> float:
    if column == "bare":
        return bare_loop_steps_per_s(_compose(base), steps)
    if column == "bare_graph":
        return bare_graph_loop_steps_per_s(_compose(base), steps)
    graphs = {"normbench": [], "normbench_eager": ["trainer.cuda_graphs=false"],
              "normbench_graphs": ["trainer.cuda_graphs=true"]}[column]
    return normbench_steps_per_s(_compose([*base, *graphs]), out)


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

    measured, pairs = columns(args.device), ratios(args.device)
    heads = [COLUMNS[column] for column in measured] + [f"{COLUMNS[a]}/{COLUMNS[b]}" for a, b in pairs]
    if len(pairs) == 1:
        print(f"(no CUDA-graph columns: device={args.device} is not CUDA)")
    print(f"{'model':8} {'norm':6} " + " ".join(f"{head:>{max(10, len(head))}}" for head in heads))
    found: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    with tempfile.TemporaryDirectory() as tmp:
        for index, case in enumerate(args.cases):
            model, norm = case.split(":")
            overrides, share = MODELS[model]
            steps = max(1, round(args.steps * share))
            base = [*overrides, f"norm={norm}", f"device={args.device}", f"trainer.max_steps={steps}",
                    f"num_threads={args.threads}", "progress=false", "force=true", f"results_dir={tmp}"]
            best = dict.fromkeys(measured, 0.0)
            try:
                for _ in range(args.repeats):
                    for column in measured:
                        best[column] = max(best[column], _measure(column, base, steps, Path(tmp) / f"run{index}"))
            except ConfigError as error:  # e.g. a torchvision that cannot load beside this torch
                print(f"{model:8} {norm:6} skipped: {error}", flush=True)
                continue
            values = [best[column] for column in measured]
            for pair in pairs:
                found[pair].append(best[pair[0]] / best[pair[1]])
                values.append(found[pair][-1])
            print(f"{model:8} {norm:6} " + " ".join(f"{value:>{max(10, len(head))}.2f}"
                                                    for head, value in zip(heads, values)), flush=True)
    for (a, b), values in found.items():
        if values:
            target = " (target >= 0.90)" if (a, b) == ("normbench", "bare") else ""
            print(f"geometric mean {COLUMNS[a]}/{COLUMNS[b]}: {_geometric_mean(values):.2f}{target}")
    return 0


def _geometric_mean(values: list[float]) -> float:
    import math

    return math.exp(sum(math.log(v) for v in values) / len(values))
