"""scripts/setup.sh installs the torchvision built for the installed torch (the version mapping it uses), a pair
that loads where torchvision is asked for, and normbench's advice when torchvision is missing is a set-up command
that asks for it."""

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys

import pytest

from normbench.errors import ConfigError
from normbench.models.torchvision import torchvision_models
from tests.core.conftest import REPO


def _spec_module():
    spec = importlib.util.spec_from_file_location("torchvision_spec", REPO / "scripts" / "torchvision_spec.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("torch_version, expected", [
    ("2.13.0+cpu", "torchvision==0.28.0+cpu"),  # the CPU build stays a CPU build
    ("2.13.0", "torchvision==0.28.0"),
    ("2.14.1", "torchvision==0.29.1"),  # the pair on disk on normbench's x86-64 machines
    ("2.6.0+cu124", "torchvision==0.21.0+cu124"),
    ("2.1.2", "torchvision==0.16.2"),
])
def test_torchvision_release_matches_torch(torch_version, expected):
    assert _spec_module().torchvision_spec(torch_version) == expected


def test_an_unknown_torch_is_refused_with_a_hint():
    with pytest.raises(SystemExit, match="NORMBENCH_TORCHVISION_SPEC"):
        _spec_module().torchvision_spec("1.13.1")


def _setup(tmp_path, *args, plan=True):
    """scripts/setup.sh from a copy without a .venv, as on a fresh clone. PYTHON points nowhere: nothing can be
    installed, whatever the script does."""
    shutil.copytree(REPO / "scripts", tmp_path / "scripts", dirs_exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if key not in ("NORMBENCH_TORCH_SPEC", "NORMBENCH_TORCHVISION_SPEC", "NORMBENCH_WITH_TORCHVISION")}
    env.update(PYTHON=str(tmp_path / "no-python"), **({"NORMBENCH_SETUP_PLAN": "1"} if plan else {}))
    return subprocess.run(["bash", str(tmp_path / "scripts" / "setup.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=60)


class _BrokenBuild:
    """A finder for which `import torchvision` fails as a build for another torch does."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torchvision":
            raise RuntimeError("operator torchvision::nms does not exist")
        return None


@pytest.mark.parametrize("failure", ["missing", "another build"])
def test_the_advice_when_torchvision_does_not_load_is_a_setup_that_installs_one(tmp_path, monkeypatch, failure):
    for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
        monkeypatch.delitem(sys.modules, name)
    if failure == "missing":
        monkeypatch.setitem(sys.modules, "torchvision", None)
    else:
        monkeypatch.setattr(sys, "meta_path", [_BrokenBuild(), *sys.meta_path])
    with pytest.raises(ConfigError) as refused:
        torchvision_models()
    message = str(refused.value)
    assert "\n" not in message
    [command] = re.findall(r"`bash scripts/setup\.sh ([a-z]+)`", message)
    out = _setup(tmp_path, command)
    assert out.returncode == 0, out.stderr
    # The command asks for a torchvision that loads (or fails saying so), not merely the release for the torch.
    assert "torchvision: the release built for torch (scripts/torchvision_spec.py)" in out.stdout
    assert "that loads, or an error" in out.stdout


@pytest.mark.skipif(platform.machine() != "x86_64" or shutil.which("nvidia-smi") is not None,
                    reason="the torch 2.14.1 + torchvision 0.29.1 pair is for x86-64 machines without an NVIDIA driver")
def test_setup_dev_installs_the_matching_pair_and_plain_setup_the_light_torch(tmp_path):
    dev = _setup(tmp_path, "dev")
    assert dev.returncode == 0, dev.stderr
    assert "normbench setup plan: torch: torch==2.14.1\n" in dev.stdout
    assert "or else the pair torch==2.14.1 torchvision==0.29.1 that loads" in dev.stdout
    plain = _setup(tmp_path)
    assert "normbench setup plan: torch: torch==2.13.0\n" in plain.stdout
    assert "a warning if it does not load" in plain.stdout


def test_setup_refuses_an_unknown_argument_in_one_line(tmp_path):
    out = _setup(tmp_path, "devv", plan=False)
    assert out.returncode == 2
    assert out.stderr.strip() == ("normbench setup: unknown argument 'devv'; use none (the tool), vision (and "
                                  "torchvision) or dev (and torchvision and the test dependencies)")
    assert not (tmp_path / ".venv").exists()
