"""torchvision for the model tests: the real one (scripts/setup.sh dev installs a torch and the torchvision built
for it). Where it does not import, the tests that need it are skipped, saying why."""

import os
import subprocess
import sys

import pytest

from tests.core.conftest import REPO, make_cfg  # noqa: F401  (make_cfg: the fixture)


def torchvision_import_error() -> str | None:
    """Why `import torchvision.models` fails in this interpreter (its last line), or None where it works."""
    probe = subprocess.run([sys.executable, "-c", "import torchvision.models"], capture_output=True, text=True)
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip().splitlines() or ["no output"])[-1]


def run_cli(*args, cwd=None, env=None, timeout=180):
    """`normbench ...` in a subprocess, with this checkout first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "normbench.cli.main", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def torchvision_models():
    """The real torchvision.models; skipped, with the import's error, where torchvision does not import."""
    error = torchvision_import_error()
    if error is not None and os.environ.get("CI") == "true":  # CI's set-up (setup.sh dev) promises a real one
        pytest.fail(f"torchvision does not import in CI ({error}): scripts/setup.sh dev must install it")
    if error is not None:
        pytest.skip(f"torchvision does not import here ({error}); `bash scripts/setup.sh dev` installs a torch and "
                    f"the torchvision built for it")
    import torchvision.models as models

    return models
