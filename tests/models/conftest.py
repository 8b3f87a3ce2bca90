"""torchvision for the model tests: the real import, or (where its C extension cannot load: a CUDA build of
torchvision beside a CPU torch) the test-only shim in torchvision_shim/, in this process and in subprocesses."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.conftest import REPO, make_cfg  # noqa: F401  (make_cfg: the fixture)

SHIM = Path(__file__).parent / "torchvision_shim"


def _torchvision_imports() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import torchvision.models"], capture_output=True)
    return probe.returncode == 0


NEEDS_SHIM = not _torchvision_imports()
PYTHONPATH = os.pathsep.join([str(REPO), *([str(SHIM)] if NEEDS_SHIM else [])])
if NEEDS_SHIM:
    sys.path.insert(0, str(SHIM))
    import sitecustomize  # noqa: F401,E402  (the shim: declares the ops torchvision's import needs)


def run_cli(*args, cwd=None, env=None, timeout=180):
    """`normbench ...` in a subprocess, with torchvision importable."""
    full_env = {**os.environ, "PYTHONPATH": PYTHONPATH, **(env or {})}
    return subprocess.run([sys.executable, "-m", "normbench.cli.main", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def torchvision_models():
    try:
        import torchvision.models as models
    except Exception as error:  # pragma: no cover - only without any torchvision
        pytest.skip(f"torchvision not importable: {error}")
    return models
