"""How long `normbench train` takes to answer a config mistake, beside the import of torch it no longer waits for.

    python scripts/bench_config_errors.py [--repeats 5]

Each mistake runs as a user runs it (a fresh `normbench train` process); the figures are wall-clock seconds,
median and slowest of the repeats. Run it on a quiet machine: under load every figure grows.
"""

import argparse
import statistics
import subprocess
import sys
import time

MISTAKES = [
    ["norm=batchh"],  # an option that does not exist
    ["model.cel=gru"],  # a misspelled key
    ["optim.lr=-1"],  # a value out of range
    ["batch_size=1", "norm=batch"],  # a pair no single option can judge
    ["model=mlp", "norm=instance"],  # a norm with no meaning on the model's sites
]


def seconds(command: list[str], expect: int) -> float:
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != expect:
        sys.exit(f"{' '.join(command)} exited {out.returncode}, not {expect}: {out.stderr.strip()[-300:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    rows = [("import torch (for reference)", [sys.executable, "-c", "import torch"], 0)]
    rows += [(" ".join(m), [sys.executable, "-m", "normbench.cli.main", "train", *m], 2) for m in MISTAKES]
    print(f"{'command':<40} {'median s':>9} {'max s':>7}")
    for label, command, expect in rows:
        times = [seconds(command, expect) for _ in range(repeats)]
        print(f"{label:<40} {statistics.median(times):>9.2f} {max(times):>7.2f}")


if __name__ == "__main__":
    main()
