"""Small things a user meets first: `normbench --version`, tab completion of `normbench train`, defaults in help."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from normbench import __version__
from normbench.cli import main as cli

from .conftest import REPO


def _exit(capsys, argv) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    return stopped.value.code, capsys.readouterr().out


def test_version(capsys):
    assert _exit(capsys, ["--version"]) == (0, f"normbench {__version__}\n")


def test_the_completion_script_completes_normbench_train(capsys):
    code, script = _exit(capsys, ["train", "-sc", "install=bash"])
    assert code == 0
    # registered for `normbench` (not `normbench-train`, not a program named `normbench train`) ...
    assert script.rstrip().splitlines()[-1] == "complete -o nospace -o default -F _normbench_completion normbench"
    # ... asking `normbench train` for the overrides, and offering the subcommands after `normbench`
    assert "normbench train -sc query=bash" in script
    assert all(command in script for command in cli.COMMANDS)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_completion_script_completes_overrides_in_bash():
    """The printed script, evaluated by bash, completes `normbench train mod` and `normbench tr` (one subprocess
    of bash, which asks a `normbench train -sc query=bash` subprocess, as at a real prompt)."""
    probe = """eval "$(normbench train -sc install=bash)"
COMP_LINE="normbench train model=m"; COMP_POINT=${#COMP_LINE}; COMP_CWORD=2; _normbench_completion
echo "train: ${COMPREPLY[*]}"
COMP_LINE="normbench tr"; COMP_POINT=${#COMP_LINE}; COMP_CWORD=1; _normbench_completion
echo "command: ${COMPREPLY[*]}"
"""
    bin_dir = Path(sys.executable).parent  # the venv's `normbench` entry point
    if not (bin_dir / "normbench").exists():
        pytest.skip("no normbench entry point beside this python")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["train: model=mlp", "command: train"]


@pytest.mark.parametrize("command, default", [
    ("bench", "(default: 1000)"), ("bench", "(default: cpu)"), ("migrate", "(default: False)"),
    ("report", "(default: 0.9)"),
])
def test_every_subcommand_help_shows_its_defaults(capsys, command, default):
    code, text = _exit(capsys, [command, "--help"])
    assert code == 0 and default in " ".join(text.split())
