"""Sweeps as a user runs them: `normbench train -m ...` in a subprocess, into a results dir under tmp_path.

Runs are tiny (synthetic data, tens of steps) so the whole directory stays fast on 2 cores. A test study,
`tiny`, lives in a config dir of its own (passed with --config-dir), so its settings stay out of run names.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests import forked

REPO = Path(__file__).resolve().parents[2]

TINY_STUDY = """# @package _global_
experiment: tiny
batch_size: 50
progress: false
num_threads: 1  # steady timings on a shared 2-core machine (two-thread torch stalls when the cores are busy)
data:
  num_train: 200
  num_test: 100
trainer:
  max_steps: {max_steps}
  eval_interval: 10
  log_interval: 10
hydra:
  sweeper:
    params:
      seed: 0,1,2
"""
BASE = ["data=synthetic"]  # every sweep here: the blog's synthetic data, generated in milliseconds


def write_tiny_study(config_dir: Path, max_steps: int = 20) -> Path:
    (config_dir / "experiment").mkdir(parents=True, exist_ok=True)
    (config_dir / "experiment" / "tiny.yaml").write_text(TINY_STUDY.format(max_steps=max_steps))
    return config_dir


def normbench_train(*args, timeout=240, env=None, **popen):
    """`normbench train ARGS` as a process of its own: run to its end if no popen options are given (forked from
    this test process's server, tests/forked.py, unless `env` asks for another environment), else started."""
    if not popen and env is None:
        return forked.train(*args, timeout=timeout)
    command = [sys.executable, "-m", "normbench.cli.main", "train", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if popen:
        return subprocess.Popen(command, env=env, **popen)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def tiny_sweep_argv(results: Path, config_dir: Path, *args) -> list[str]:
    """`normbench train` arguments of a sweep of the `tiny` study into `results`."""
    return ["-m", "--config-dir", str(config_dir), "experiment=tiny", *BASE, f"results_dir={results}", *args]


def tiny_sweep(results: Path, config_dir: Path, *args, **kwargs):
    return normbench_train(*tiny_sweep_argv(results, config_dir, *args), **kwargs)


def run_dirs(study_dir: Path) -> list[Path]:
    return sorted(p for p in study_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def summaries(study_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(study_dir.glob("*/summary.json"))}


def tally_counts(stdout: str) -> dict[str, int]:
    """The final table's counts, e.g. {'completed': 2, 'failed': 1, ...}."""
    counts = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def metrics(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "metrics.csv")


@pytest.fixture(scope="session")
def finished_tiny_sweep(tmp_path_factory):
    """A finished 3-run sweep of the `tiny` study (basic launcher), made once; tests work on copies."""
    root = tmp_path_factory.mktemp("finished")
    config_dir = write_tiny_study(root / "conf")
    out = tiny_sweep(root / "results", config_dir)
    assert out.returncode == 0, out.stderr
    return root


@pytest.fixture
def tiny_copy(finished_tiny_sweep, tmp_path):
    """A private copy of the finished sweep: (results dir, config dir)."""
    shutil.copytree(finished_tiny_sweep, tmp_path, dirs_exist_ok=True)
    return tmp_path / "results", tmp_path / "conf"


@pytest.fixture
def compose_cfg():
    """Compose the real configs/ in-process, as `normbench train` would (hydra=True keeps the hydra node)."""
    from hydra import compose, initialize_config_dir

    import normbench.cli.train  # noqa: F401  (registers the schema and normbench's resolvers)
    from normbench.config.paths import config_dir

    def make(*overrides, hydra=False):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose("config", overrides=list(overrides), return_hydra_config=hydra)

    return make
