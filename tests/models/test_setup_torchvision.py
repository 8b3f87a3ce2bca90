"""scripts/setup.sh installs the torchvision built for the installed torch: the version mapping it uses."""

import importlib.util

import pytest

from tests.core.conftest import REPO


def _spec_module():
    spec = importlib.util.spec_from_file_location("torchvision_spec", REPO / "scripts" / "torchvision_spec.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("torch_version, expected", [
    ("2.13.0+cpu", "torchvision==0.28.0+cpu"),  # the CPU build stays a CPU build
    ("2.13.0", "torchvision==0.28.0"),
    ("2.6.0+cu124", "torchvision==0.21.0+cu124"),
    ("2.1.2", "torchvision==0.16.2"),
])
def test_torchvision_release_matches_torch(torch_version, expected):
    assert _spec_module().torchvision_spec(torch_version) == expected


def test_an_unknown_torch_is_refused_with_a_hint():
    with pytest.raises(SystemExit, match="NORMBENCH_TORCHVISION_SPEC"):
        _spec_module().torchvision_spec("1.13.1")
