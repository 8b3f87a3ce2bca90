#!/usr/bin/env python
"""Training steps/s of the normalized recurrences (MNIST-1D's bidirectional RNN, batch 100, 1 thread), and
what that makes of the `rnn` and `bn_vs_ln` studies' recurrent runs.

    python scripts/bench_rnn.py                       # gru/lstm x batch/layer
    python scripts/bench_rnn.py --cases gru:layer --steps 100
    python scripts/bench_rnn.py --compile             # compiled as trainer.compile=true/auto does it

With --compile the model goes through torch.compile, as a run's training forward does; the first steps (the
compile, or a load from inductor's on-disk cache, $TORCHINDUCTOR_CACHE_DIR) are timed apart, in wall time.

Each case builds the model as a run does (normbench.engine.build) and times a bare loop of sample, forward,
cross-entropy, backward, Adam step, best of `--repeats`, in process CPU time (steadier than wall time on a
shared machine; one thread, so the two agree on a quiet one). To compare two versions, run this file from
each checkout (PYTHONPATH=that checkout) alternately.
"""

import argparse
import time

import torch
import torch.nn.functional as F

from normbench.cli.bench import _compose
from normbench.engine.build import build

STUDY_STEPS = 3000  # trainer.max_steps of both studies
SEEDS = 3


def steps_per_s(cell: str, norm: str, steps: int, repeats: int, compile: bool) -> tuple[float, float]:
    """(best steps/s, wall seconds of the first two steps: the compile, or its load from the cache)."""
    cfg = _compose(["model=rnn", f"model.cell={cell}", f"norm={norm}", "device=cpu", "num_threads=1"])
    built = build(cfg)
    model, optimizer, x, y = built.model.train(), built.optimizer, built.data.x_train, built.data.y_train
    forward = torch.compile(model) if compile else model

    def train(count: int) -> None:
        for _ in range(count):
            index = torch.randint(len(x), (cfg.batch_size,))
            loss = F.cross_entropy(forward(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    started = time.perf_counter()
    train(2)
    first = time.perf_counter() - started
    best = 0.0
    for _ in range(repeats):
        started = time.process_time()
        train(steps)
        best = max(best, steps / (time.process_time() - started))
    return best, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", default=["gru:batch", "gru:layer", "lstm:batch", "lstm:layer"])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model, as trainer.compile does")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'cell':5} {'norm':6} {'steps/s':>8} {'one study run (3000 steps)':>28} {'first 2 steps':>14}")
    total = {}
    for case in args.cases:
        cell, norm = case.split(":")
        rate, first = steps_per_s(cell, norm, args.steps, args.repeats, args.compile)
        total[case] = STUDY_STEPS / rate
        print(f"{cell:5} {norm:6} {rate:8.1f} {total[case]:27.0f}s {first:13.1f}s", flush=True)
    rnn = sum(SEEDS * seconds for seconds in total.values())
    gru = sum(SEEDS * seconds for case, seconds in total.items() if case.startswith("gru:"))
    print(f"normalized runs, 1 thread each, one after another: `rnn` study {rnn / 60:.1f} min, "
          f"`bn_vs_ln` study (GRU) {gru / 60:.1f} min")


if __name__ == "__main__":
    main()
