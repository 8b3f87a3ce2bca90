"""Bad input gets one clear line and an exit status of 2, before anything is written or submitted."""

import shutil
import sys
from pathlib import Path

import pytest

from normbench.config import preflight

from .conftest import BASE, normbench_train, summaries


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("normbench: error: "), stderr
    return lines[0]


def test_a_misspelled_study_lists_the_studies(tmp_path):
    out = normbench_train("-m", "experiment=bn_vs_lm", f"results_dir={tmp_path}")
    assert out.returncode == 2
    line = _one_error_line(out.stderr)
    assert "experiment=bn_vs_lm is not a study in configs/experiment/" in line
    assert "blog_example, bn_vs_ln, default, lr_sensitivity, rnn, small_batch" in line
    assert "did you mean experiment=bn_vs_ln?" in line
    assert not tmp_path.joinpath("bn_vs_lm").exists() and not any(tmp_path.iterdir())


def test_a_launcher_plugin_that_is_not_installed(tmp_path):
    out = normbench_train("-m", "hydra/launcher=ray", f"results_dir={tmp_path}")
    assert out.returncode == 2
    line = _one_error_line(out.stderr)
    assert "hydra/launcher=ray needs the hydra-ray-launcher plugin, which is not installed" in line
    assert "installed launchers: basic, joblib, submitit_local, submitit_slurm" in line


def test_a_launcher_preset_whose_plugin_is_missing(monkeypatch):
    monkeypatch.setattr(preflight, "plugin_installed", lambda launcher: launcher != "joblib")
    monkeypatch.setattr(preflight, "installed_launchers", lambda: ["basic", "submitit_local", "submitit_slurm"])
    message = preflight.command_line_error(["-m", "experiment=bn_vs_ln", "launcher=local"])
    assert message.startswith("launcher=local needs the hydra-joblib-launcher plugin, which is not installed")
    assert preflight.command_line_error(["-m", "launcher=slurm"]) is None  # its plugin is there
    assert "choose one of: local, slurm, submitit_local" in preflight.command_line_error(["launcher=jobib"])


def test_slurm_without_a_slurm_cluster_is_refused_before_submitting(tmp_path):
    bin_dir = Path(sys.executable).parent  # PATH: only the interpreter's directory, so even a SLURM host has no sbatch
    if shutil.which("sbatch", path=str(bin_dir)):
        pytest.skip("the interpreter's directory has sbatch")
    out = normbench_train("-m", "launcher=slurm", "seed=0,1", f"results_dir={tmp_path}", env={"PATH": str(bin_dir)})
    assert out.returncode == 2
    line = _one_error_line(out.stderr)
    assert "submits with sbatch, which is not on PATH" in line and "launcher=local" in line
    assert not any(tmp_path.iterdir())  # no sweep dir, no .submitit, nothing submitted


def test_a_run_of_another_configuration_under_the_same_name_is_refused(tiny_copy):
    results, conf = tiny_copy
    kept = summaries(results / "tiny")
    study = conf / "experiment" / "tiny.yaml"
    study.write_text(study.read_text().replace("max_steps: 20", "max_steps: 30"))  # the study was edited since
    out = normbench_train("--config-dir", str(conf), "experiment=tiny", *BASE, "seed=0", f"results_dir={results}")
    assert out.returncode == 2
    line = _one_error_line(out.stderr)
    assert "holds a run of a different configuration" in line
    assert "pass force=true to replace it" in line and "another results_dir=DIR" in line
    assert summaries(results / "tiny") == kept


def test_sweeping_over_studies_is_refused():
    # Hydra would run each study's default config once: the studies' own grids are read before the sweep.
    message = preflight.command_line_error(["-m", "experiment=bn_vs_ln,rnn"])
    assert message.startswith("experiment=bn_vs_ln,rnn: run one study per command")
    assert preflight.command_line_error(["-m", "experiment=bn_vs_ln", "seed=0,1"]) is None


def test_a_launcher_needs_a_sweep():
    # Without -m Hydra ignores the launcher and trains in this process: on a login node, for launcher=slurm.
    for argv, culprit in ((["launcher=slurm"], "launcher=slurm"),
                          (["experiment=bn_vs_ln", "launcher=local", "seed=0"], "launcher=local"),
                          (["hydra/launcher=joblib"], "hydra/launcher=joblib")):
        assert preflight.command_line_error(argv).startswith(f"{culprit} needs -m: "), argv
    for argv in (["-m", "launcher=slurm"], ["--multirun", "launcher=local"], ["hydra.mode=MULTIRUN", "launcher=local"],
                 ["--cfg", "hydra", "launcher=slurm"], ["launcher=null"], ["-m", "experiment=default", "launcher=slurm"]):
        assert preflight.command_line_error(argv) is None, argv
