"""The CLI as a user meets it: subcommands, Hydra behaviour, one-line errors, sweeps, installed wheels.

The error cases run as forked commands (tests/forked.py): a process each, without an import of torch each."""

import os
import subprocess
import sys

import pytest

from .conftest import REPO, TINY, read_run, run_cli


def test_top_level_help_lists_subcommands():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("train", "report", "bench"):
        assert f"  {command}" in out.stdout


def test_output_whose_reader_has_gone_ends_without_a_traceback():
    """`normbench train --help | head -1`: the reader stops before normbench has written its output."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "normbench.cli.main", "train", "--help"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader goes away before the first line
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_train_is_a_hydra_app(forked_normbench, tmp_path):
    help_out = forked_normbench.train(tmp_path / "logs", "--help")
    assert help_out.returncode == 0
    groups = dict(line.split(": ", 1) for line in help_out.stdout.splitlines() if line.startswith(("model: ", "data: ")))
    data = "cifar10, cifar100, csv, digits, fashion_mnist, image_folder, mnist, mnist1d, npz, synthetic"
    assert groups == {"model": "cnn, factory, mlp, rnn, torchvision, transformer", "data": data}
    cfg = forked_normbench.train(tmp_path / "logs", "--cfg", "job", "model=cnn", "norm=group", "norm.groups=25")
    assert cfg.returncode == 0
    assert "name: cnn" in cfg.stdout and "groups: 25" in cfg.stdout


@pytest.mark.parametrize("override, message", [
    ("batch_size=0", "batch_size=0 must be positive"),
    ("trainer.max_steps=-5", "trainer.max_steps=-5 must be positive"),
    ("optim.lr=0", "optim.lr=0.0 must be positive"),
    ("batch_size=1", "norm=batch needs batch_size >= 2"),
    ("device=cuda", "CUDA is not available"),
    ("device=tpu", "device=tpu is not allowed"),
    ("norm=instance", "norm=instance has no meaning on a feature vector"),
])
def test_bad_values_get_one_line_errors(forked_normbench, tmp_path, override, message):
    if override == "device=cuda" and __import__("torch").cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = forked_normbench.train(tmp_path / "logs", f"results_dir={tmp_path}", *TINY, override)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len([line for line in out.stderr.splitlines() if line.startswith("normbench: error")]) == 1
    assert not any(tmp_path.rglob("summary.json"))  # refused before anything was written


def test_group_count_must_divide_channels(forked_normbench, tmp_path):
    out = forked_normbench.train(tmp_path / "logs", "model=cnn", "norm=group", "norm.groups=4", f"results_dir={tmp_path}", *TINY)
    assert out.returncode == 2 and "choose one of: 1, 5, 25" in out.stderr


@pytest.mark.parametrize("override, message", [
    ("norm=group norm.grups=3", "norm.grups=3: norm=group has no key 'grups' (did you mean norm.groups?)"),
    ("+trainer.max_stpes=5", "trainer has no key 'max_stpes' (did you mean trainer.max_steps?)"),
    ("optimizer=sgd", "there is no setting 'optimizer' (did you mean optim=sgd?)"),
    ("norm=batch norm.groups=3", "norm.groups is a key of norm=group, not of norm=batch; choose norm=group or drop it"),
    ("norm=weight", "norm=weight is not a norm in configs/norm/; choose one of: batch, batch_renorm"),
    ("model=mpl", "(did you mean model=mlp?)"),
    ("model=rnn model.cell=rnn", "Invalid value 'rnn', expected one of [lstm, gru]"),
    ("model=mlp model.cell=gru", "model.cell is a key of model=rnn, not of model=mlp; choose model=rnn or drop it"),
    ("batch_size=abc", "could not be converted to Integer"),
    ("learning_rate=1", "learning_rate=1: there is no setting 'learning_rate'"),
])
def test_hydra_refuses_unknown_keys_options_and_types(forked_normbench, tmp_path, override, message):
    out = forked_normbench.train(tmp_path / "logs", *override.split(), f"results_dir={tmp_path}")
    assert out.returncode != 0 and message in out.stderr


def test_multirun_writes_one_directory_per_run(forked_normbench, tmp_path):
    out = forked_normbench.train(tmp_path / "logs", "-m", "norm=batch,layer", "seed=0,1", "data=synthetic",
                                 "data.num_train=200", f"results_dir={tmp_path}", *TINY)
    assert out.returncode == 0, out.stderr
    runs = sorted(p.parent for p in (tmp_path / "default").glob("*/summary.json"))
    rest = "synthetic_bs100_adam-lr0.01"
    extras = "num_train=200_eval_interval=20_log_interval=10_max_steps=40"  # sorted by full key
    assert [p.name for p in runs] == [f"mlp_{norm}_{rest}_s{seed}_{extras}" for norm in ("batch", "layer")
                                      for seed in (0, 1)]
    for run in runs:
        summary, _ = read_run(run)
        assert summary["status"] == "completed" and (run / ".hydra" / "config.yaml").is_file()
        assert summary["run_name"] == run.name


def test_divergence_exits_zero(forked_normbench, tmp_path):
    out = forked_normbench.train(tmp_path / "logs", "optim=sgd", "optim.lr=1e12", "norm=none", f"results_dir={tmp_path}", *TINY)
    assert out.returncode == 0
    (summary_path,) = tmp_path.rglob("summary.json")
    assert '"status": "diverged"' in summary_path.read_text()


@pytest.mark.slow
def test_configs_are_found_from_an_installed_wheel(tmp_path):
    """A regular (non-editable) install run from another directory must find configs/ inside the wheel."""
    # Built with the installed backend (the dev extras include it): build isolation would fetch it from the network.
    pytest.importorskip("hatchling", reason="the build backend (hatchling, in normbench's dev extras) is not "
                                            "installed, and building the wheel without it would need the network")
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheel_dir), str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheel_dir.glob("normbench-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-m", "normbench.cli.main", "train", "data=synthetic", "results_dir=out", *TINY],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert any((elsewhere / "out" / "default").glob("*/summary.json"))
    probe = subprocess.run([sys.executable, "-c", "import normbench.config.paths as p; print(p.config_dir())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(site))
