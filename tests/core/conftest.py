import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import normbench.cli.train  # noqa: F401  (registers the structured configs and the run-name resolver)
from normbench.config.paths import config_dir

REPO = Path(__file__).resolve().parents[2]
TINY = ["trainer.max_steps=40", "trainer.eval_interval=20", "trainer.log_interval=10", "progress=false"]


@pytest.fixture
def make_cfg():
    """Compose the real configs/ with overrides, as `normbench train` would."""

    def make(*overrides):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose("config", overrides=list(overrides))

    return make


def run_cli(*args, cwd=None, timeout=180, env=None):
    """`normbench ...` in a subprocess, as a user runs it (`env`: variables to add to this process's)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "normbench.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def read_run(run_dir: Path):
    return json.loads((run_dir / "summary.json").read_text()), pd.read_csv(run_dir / "metrics.csv")
