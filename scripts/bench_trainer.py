"""Trainer overhead benchmark: `python scripts/bench_trainer.py [--steps N]` (same as `normbench bench`)."""

import sys

from normbench.cli.bench import main

if __name__ == "__main__":
    sys.exit(main())
