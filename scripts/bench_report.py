#!/usr/bin/env python
"""Time `normbench report` on 500 synthetic run directories, in-process.

    python scripts/bench_report.py            # synthesize into a temp dir, time 3 reports
    python scripts/bench_report.py --keep DIR # keep the run directories and the report in DIR

The sweep: 2 models × 5 norms × 5 batch sizes × 2 learning rates × 5 seeds = 500 runs of 3,000 steps
each (per-step train loss, evals every 100 steps, grad norm every 25, probes every 250), written as the
trainer writes them. Imports are timed apart: a report is timed from its call to its return.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--repeat", type=int, default=3, help="reports to time (default: 3)")
    arguments.add_argument("--steps", type=int, default=3000, help="optimizer steps per run (default: 3000)")
    arguments.add_argument("--keep", type=Path, default=None, help="write the runs here and keep them")
    args = arguments.parse_args()

    started = time.perf_counter()
    from normbench.report.pipeline import Options, build_report  # pandas, scipy, matplotlib, pyarrow
    from tests.report.synthetic import synthesize_results

    imports = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch:
        root = (args.keep or Path(scratch)) / "results"
        started = time.perf_counter()
        runs = synthesize_results(root, steps=args.steps)
        size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
        print(f"synthesized {len(runs)} runs of {args.steps} steps ({size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s; imports took {imports:.1f} s")
        walls = []
        for attempt in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            report = build_report([root], root / "report", Options())
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            walls.append(wall)
            stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in report.timings.items())
            print(f"report {attempt + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU ({stages}); "
                  f"{len(report.runs)} runs, {len(report.figures)} figures")
        walls.sort()
        print(f"best {walls[0]:.2f} s, median {walls[len(walls) // 2]:.2f} s over {len(walls)} reports "
              f"(target: under 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
