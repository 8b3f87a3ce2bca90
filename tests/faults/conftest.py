"""Faults: kills, concurrent sweeps, damaged run directories. Tiny runs on synthetic data, so each test is fast.

Helpers shared by the fault tests: composing a config in-process, running `normbench train` as a user does,
reading a run directory back, and a snapshot of every file a test must leave untouched.
"""

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
# A run of a few hundred milliseconds: the blog's synthetic data, 200 training samples, batches of 50.
TINY = ["data=synthetic", "data.num_train=200", "data.num_test=100", "batch_size=50", "trainer.eval_interval=10",
        "trainer.log_interval=10", "progress=false", "num_threads=1"]


@pytest.fixture
def tiny_cfg():
    """Compose the real configs/ with overrides, as `normbench train` would."""
    from hydra import compose, initialize_config_dir

    import normbench.cli.train  # noqa: F401  (registers the schemas and normbench's resolvers)
    from normbench.config.paths import config_dir

    def make(*overrides):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose("config", overrides=[*TINY, *overrides])

    return make


def normbench(*args, timeout=180, **popen):
    """`normbench ARGS` in a subprocess, with this tree first on the path (run, or started if popen options).
    A started one gets Ctrl-C's default handling: a suite run from a background job (`cmd &`, nohup) has SIGINT
    ignored, which children inherit, and a test that sends SIGINT would then test nothing (PITFALLS: Signals)."""
    command = [sys.executable, "-m", "normbench.cli.main", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if popen:
        return subprocess.Popen(command, env=env, preexec_fn=_default_sigint, **popen)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train(*overrides, **kwargs):
    return normbench("train", *TINY, *overrides, **kwargs)


def metrics(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "metrics.csv")


def steps_of(frame: pd.DataFrame, split: str, metric: str) -> list[int]:
    return frame[(frame.split == split) & (frame.metric == metric)].step.tolist()


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under `directory` (hidden ones too) -> a digest of its bytes."""
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(Path(directory).rglob("*")) if path.is_file()}


def one_error_line(stderr: str) -> str:
    """The single line a refused command prints (no traceback, nothing else)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("normbench: error: "), stderr
    return lines[0]
