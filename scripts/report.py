#!/usr/bin/env python
"""`python scripts/report.py [RESULTS_DIR ...] [--out DIR]`: the same as `normbench report ...`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from normbench.report.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
