#!/usr/bin/env python
"""Sweep throughput on a CUDA host: the same N-run sweep with launcher=local at one job per GPU and at the
number of jobs per GPU launcher=local chooses (normbench/launch/gpu_jobs.py), in runs per minute.

    python scripts/bench_gpu_sweep.py                          # 32 runs of 1500 steps: the figures in docs/sweeps.md
    python scripts/bench_gpu_sweep.py --jobs-per-gpu 1,2,4,8,auto --runs 64

The sweep is the default MNIST-1D models, model=mlp,cnn x norm=batch,layer x seeds, device=auto (jobs spread
over the GPUs round-robin). Every sweep runs as `normbench train -m ...` in a subprocess, into a temporary
results dir, exactly as a user runs it (scripts/bench_sweep.py). On a host without a CUDA GPU it says so in
one line and exits 0.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sweep import load, normbench_train  # noqa: E402  (a sibling script, not a package)

from normbench.launch.gpu_jobs import DEFAULT_MIB_PER_JOB, local_jobs, query_gpus, visible_gpus  # noqa: E402
from normbench.launch.job_resources import usable_cpus  # noqa: E402

MODELS_AND_NORMS = ["model=mlp,cnn", "norm=batch,layer"]  # 4 configurations; seeds make up the N runs


def sweep_args(runs: int, steps: int) -> list[str]:
    seeds = -(-runs // 4)  # ceil: the sweep has 4 x seeds runs
    return ["-m", *MODELS_AND_NORMS, f"seed={','.join(str(seed) for seed in range(seeds))}",
            f"trainer.max_steps={steps}", "device=auto", "launcher=local"]


def jobs_setting(value: str) -> list[str]:
    """The overrides of one setting: `auto` (launcher=local's own choice) or K jobs per GPU."""
    return [] if value == "auto" else [f"launcher.jobs_per_gpu={int(value)}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=32, help="runs in the sweep (rounded up to a multiple of 4)")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per run")
    parser.add_argument("--jobs-per-gpu", default="1,auto",
                        help="comma-separated settings to time, the first the baseline: K jobs per GPU or auto")
    args = parser.parse_args()
    settings = args.jobs_per_gpu.split(",")
    gpus = visible_gpus(list(query_gpus()), os.environ.get("CUDA_VISIBLE_DEVICES"))

    if not gpus or not torch.cuda.is_available():
        print("bench_gpu_sweep: needs a CUDA GPU (none visible here): nothing measured")
        return
    cpus = usable_cpus()
    auto = local_jobs("auto", 0, DEFAULT_MIB_PER_JOB, cpus)
    sweep = sweep_args(args.runs, args.steps)
    runs = 4 * -(-args.runs // 4)
    names = ", ".join(f"{torch.cuda.get_device_name(i)} ({gpu.memory_mib} MiB)" for i, gpu in enumerate(gpus))
    print(f"normbench GPU sweep benchmark: {runs} runs ({' '.join(sweep[1:])}), {len(gpus)} GPU(s): {names}; "
          f"{cpus} usable CPUs; auto = {auto} jobs at once; load average {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="normbench-bench-gpu-") as tmp:
        root = Path(tmp)
        normbench_train(root / "warm-up", "trainer.max_steps=1", "device=auto")  # data generated and cached
        per_minute = {}
        for setting in settings:
            wall = normbench_train(root / f"jobs-{setting}", *sweep, *jobs_setting(setting))
            per_minute[setting] = 60.0 * runs / wall
            at_once = auto if setting == "auto" else min(int(setting) * len(gpus), runs)
            print(f"  jobs_per_gpu={setting:<5} ({at_once:>3} at once): {wall:7.1f} s, "
                  f"{per_minute[setting]:6.1f} runs/min, {per_minute[setting] / per_minute[settings[0]]:.2f}x "
                  f"jobs_per_gpu={settings[0]}", flush=True)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
