#!/usr/bin/env python
"""Time normbench sweeps on this machine: the same 8-run sweep serially (Hydra's basic launcher) and with the
joblib launcher (launcher=local, 2 jobs), and the fixed cost of a run (trainer.max_steps=1).

    python scripts/bench_sweep.py              # the figures in docs/sweeps.md
    python scripts/bench_sweep.py --steps 500  # quicker and noisier: per-run overhead weighs more

Every sweep runs as `normbench train -m ...` in a subprocess, into a temporary results dir, exactly as a
user runs it. Timings on a shared machine move with its load: the load average is printed with them.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SWEEP = ["model=cnn", "norm=batch,layer", "seed=0,1,2,3"]  # 8 runs on MNIST-1D
SPEEDUP_TARGET = 1.8  # issue 11: a 2-core launcher=local sweep >= 1.8x the default serial one
OVERHEAD_TARGET_S = 1.0  # issue 11: a one-step run costs <= 1 s more than `python -c "import torch"`


def normbench_train(results_dir: Path, *args: str) -> float:
    """Wall seconds of one `normbench train ...` process; stops the benchmark if it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "normbench.cli.main", "train", *args, f"results_dir={results_dir}",
               "progress=false"]
    started = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"bench_sweep: {' '.join(command)} failed:\n{out.stderr[-3000:]}")
    return wall


def import_torch_seconds() -> float:
    """Wall seconds of `python -c "import torch"`: the floor under any run's fixed cost."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="training steps per run of the 8-run sweep")
    parser.add_argument("--jobs", type=int, default=2, help="joblib jobs for the parallel sweep")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    budget = f"trainer.max_steps={args.steps}"
    with tempfile.TemporaryDirectory(prefix="normbench-bench-") as tmp:
        root = Path(tmp)
        print(f"normbench sweep benchmark: 8 runs ({' '.join(SWEEP)}, {budget}, mnist1d), {cpus} usable CPUs, "
              f"load average {load()}", flush=True)
        normbench_train(root / "warm-up", "trainer.max_steps=1")  # data generated and cached, files in page cache

        serial = normbench_train(root / "serial", "-m", *SWEEP, budget)
        print(f"  serial, basic launcher, {cpus} threads per run (the default):  {serial:7.1f} s", flush=True)
        # Small models gain little from a second thread, and a multi-threaded run stalls whenever another
        # process holds a core: one thread per run is the fairer serial baseline on a shared machine.
        serial_one = normbench_train(root / "serial-1", "-m", *SWEEP, budget, "num_threads=1")
        print(f"  serial, basic launcher, 1 thread per run:                {serial_one:7.1f} s", flush=True)
        parallel = normbench_train(root / "parallel", "-m", *SWEEP, budget, "launcher=local",
                                   f"hydra.launcher.n_jobs={args.jobs}")
        threads = max(1, cpus // args.jobs)
        print(f"  parallel, launcher=local, {args.jobs} jobs x {threads} thread(s):            {parallel:7.1f} s")
        speedup, fair = serial / parallel, serial_one / parallel
        verdict = "met" if min(speedup, fair) >= SPEEDUP_TARGET else "missed"
        print(f"  speed-up {speedup:.2f}x over the default serial sweep, {fair:.2f}x over 1-thread serial "
              f"(target >= {SPEEDUP_TARGET}x: {verdict})", flush=True)

        print("per-run overhead (trainer.max_steps=1, data from the cache):", flush=True)
        cold = statistics.median(normbench_train(root / f"cold{i}", "model=cnn", "trainer.max_steps=1")
                                 for i in range(3))
        torch_only = statistics.median(import_torch_seconds() for _ in range(3))
        extra = cold - torch_only
        verdict = "met" if extra <= OVERHEAD_TARGET_S else "missed"
        print(f"  one run in a fresh process (python, imports, Hydra, data, 1 step, outputs): {cold:.2f} s, "
              f"`python -c 'import torch'` {torch_only:.2f} s: {extra:.2f} s more (medians of 3; "
              f"target <= {OVERHEAD_TARGET_S:.0f} s more: {verdict})", flush=True)
        one = normbench_train(root / "one", "-m", "model=cnn", "trainer.max_steps=1")
        eight = normbench_train(root / "eight", "-m", *SWEEP, "trainer.max_steps=1")
        print(f"  each further run inside a sweep process: {(eight - one) / 7:.2f} s "
              f"(8-run sweep {eight:.1f} s vs 1-run sweep {one:.1f} s)")
        print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
