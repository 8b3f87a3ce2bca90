"""launcher=local on a GPU host: jobs per GPU from the GPUs' memory and the cores (normbench/launch/gpu_jobs.py),
with fakes for the GPUs: the rule itself, nvidia-smi's answer, and the n_jobs Hydra's launcher is built with."""

import logging
import os

import pytest
from omegaconf import OmegaConf

from normbench.errors import ConfigError
from normbench.launch import gpu_jobs
from normbench.launch.gpu_jobs import (
    ALL_CORES,
    DEFAULT_MIB_PER_JOB,
    Gpu,
    gpus_for_device,
    jobs_at_once,
    parse_gpus,
    visible_gpus,
)
from normbench.launch.job_resources import joblib_workers, threads_per_job, usable_cpus

H100 = 81559  # MiB, as nvidia-smi reports an 80 GB H100
SMI_TWO_H100 = f"0, GPU-aaaa-1111, {H100}\n1, GPU-bbbb-2222, {H100}\n"


@pytest.mark.parametrize("gpu_mib, cpus, mib_per_job, jobs_per_gpu, expected", [
    ([], 16, 4096, 0, ALL_CORES),  # no GPU: one job per core, as before
    ([], 16, 4096, 3, ALL_CORES),  # jobs_per_gpu means nothing without a GPU
    ([H100], 16, 4096, 0, 16),  # 19 would fit: the 16 cores decide
    ([H100], 64, 4096, 0, 19),  # 64 cores: the memory decides, 81559 // 4096
    ([H100, H100], 16, 4096, 0, 16),  # 8 per GPU: each GPU's share of the cores
    ([H100, 24576], 64, 4096, 0, 12),  # the same number on every GPU: what the smallest holds (6), x 2
    ([2048], 16, 4096, 0, 1),  # a GPU smaller than the budget still runs one job
    ([H100] * 4, 2, 4096, 0, 4),  # fewer cores than GPUs: still one job on each GPU
    ([H100, H100], 16, 40000, 0, 4),  # a larger budget: 2 per GPU
    ([H100, H100], 16, 4096, 3, 6),  # jobs_per_gpu given: as given, per GPU
])
def test_jobs_at_once_follows_the_rule(gpu_mib, cpus, mib_per_job, jobs_per_gpu, expected):
    assert jobs_at_once(gpu_mib, cpus, mib_per_job, jobs_per_gpu) == expected


def test_threads_per_job_share_the_cores_among_the_jobs_on_the_gpus():
    n_jobs = jobs_at_once([H100], 64, 40000)  # 2 jobs on the GPU
    launcher = OmegaConf.create({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
                                 "n_jobs": n_jobs})
    assert n_jobs == 2 and threads_per_job(launcher, 64, 100) == 32
    launcher.n_jobs = jobs_at_once([H100] * 2, 16, 4096)
    assert threads_per_job(launcher, 16, 100) == 1  # 16 at once on 16 cores


def test_nvidia_smi_lines_are_read_and_anything_else_refused():
    assert parse_gpus(SMI_TWO_H100) == [Gpu(0, "GPU-aaaa-1111", H100), Gpu(1, "GPU-bbbb-2222", H100)]
    assert parse_gpus("") == []
    with pytest.raises(ValueError):
        parse_gpus("0, GPU-aaaa-1111, [N/A]\n")


@pytest.mark.parametrize("visible, expected", [
    (None, [0, 1, 2]),  # unset: every GPU
    ("2", [2]),
    ("2,0", [2, 0]),  # CUDA's order is the variable's
    ("GPU-bbbb", [1]),  # a UUID's prefix names a GPU too
    ("0,7,1", [0]),  # CUDA stops at the first entry that names no GPU
    ("", []),
    ("-1", []),
])
def test_cuda_visible_devices_narrows_the_gpus_nvidia_smi_lists(visible, expected):
    gpus = [Gpu(0, "GPU-aaaa-1111", H100), Gpu(1, "GPU-bbbb-2222", H100), Gpu(2, "GPU-cccc-3333", 40960)]
    assert [gpu.index for gpu in visible_gpus(gpus, visible)] == expected


@pytest.mark.parametrize("device, expected", [("auto", [0, 1]), ("cuda", [0]), ("cuda:1", [1]), ("cuda:5", []),
                                              ("cpu", []), ("mps", [])])
def test_a_sweep_uses_the_gpus_its_device_names(device, expected):
    gpus = [Gpu(0, "GPU-aaaa-1111", H100), Gpu(1, "GPU-bbbb-2222", H100)]
    assert [gpu.index for gpu in gpus_for_device(device, gpus)] == expected


def test_settings_out_of_range_are_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"launcher.jobs_per_gpu=-1 must be >= 0"):
        gpu_jobs.check_settings(-1, DEFAULT_MIB_PER_JOB)
    with pytest.raises(ConfigError, match=r"launcher.gpu_mib_per_job=0 must be positive"):
        gpu_jobs.check_settings(0, 0)


# ---------------------------------------------------------------------------------------------------------
# The launcher Hydra builds from configs/launcher/local.yaml, with a fake nvidia-smi on PATH


def _fake_nvidia_smi(directory, script: str) -> None:
    path = directory / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def _built_n_jobs(compose_cfg, *overrides) -> int:
    """n_jobs of the joblib launcher as Hydra instantiates it in the sweep's process (resolving local.yaml)."""
    from hydra.core.plugins import Plugins

    cfg = compose_cfg("launcher=local", *overrides, hydra=True)
    launcher = Plugins.instance()._instantiate(cfg.hydra.launcher)  # what Hydra does before launching
    return launcher.joblib["n_jobs"]


def test_on_a_host_without_gpus_launcher_local_runs_one_job_per_core(compose_cfg, tmp_path, monkeypatch):
    assert _built_n_jobs(compose_cfg, "device=cpu") == ALL_CORES  # a CPU sweep on any host
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi at all
    n_jobs = _built_n_jobs(compose_cfg)
    assert n_jobs == ALL_CORES and joblib_workers(n_jobs, usable_cpus()) == usable_cpus()


@pytest.mark.parametrize("overrides, cpus, expected", [
    ([], 16, 16),  # 8 jobs on each GPU: the cores decide
    ([], 64, 38),  # 19 on each: the memory decides
    (["launcher.gpu_mib_per_job=40000"], 64, 4),
    (["launcher.jobs_per_gpu=3"], 16, 6),
    (["device=cuda:1", "launcher.gpu_mib_per_job=40000"], 64, 2),  # one GPU named: its jobs only
    (["device=cpu"], 16, ALL_CORES),
    (["hydra.launcher.n_jobs=5"], 16, 5),  # the user's n_jobs wins
])
def test_on_a_gpu_host_n_jobs_follows_the_gpus_memory_and_the_cores(compose_cfg, tmp_path, monkeypatch,
                                                                      overrides, cpus, expected):
    _fake_nvidia_smi(tmp_path, f"printf '{SMI_TWO_H100}'")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr("normbench.launch.job_resources.usable_cpus", lambda: cpus)
    assert _built_n_jobs(compose_cfg, *overrides) == expected


def test_cuda_visible_devices_counts_for_the_gpus(compose_cfg, tmp_path, monkeypatch):
    _fake_nvidia_smi(tmp_path, f"printf '{SMI_TWO_H100}'")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    monkeypatch.setattr("normbench.launch.job_resources.usable_cpus", lambda: 64)
    assert _built_n_jobs(compose_cfg) == H100 // DEFAULT_MIB_PER_JOB  # one GPU, not two


def test_a_failing_nvidia_smi_means_no_gpu_and_says_so(compose_cfg, tmp_path, monkeypatch, caplog):
    _fake_nvidia_smi(tmp_path, "echo 'NVIDIA-SMI has failed because it could not communicate with the driver'; exit 9")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with caplog.at_level(logging.WARNING, logger="normbench"):
        assert _built_n_jobs(compose_cfg) == ALL_CORES
    assert "could not communicate with the driver" in caplog.text and "one job per core" in caplog.text


def test_launcher_settings_leave_run_names_and_identity_alone(compose_cfg):
    from normbench.rundir.identity import config_hash, run_name

    plain = compose_cfg("launcher=local", hydra=True)
    tuned = compose_cfg("launcher=local", "launcher.jobs_per_gpu=2", "launcher.gpu_mib_per_job=1024", hydra=True)
    assert tuned.launcher.jobs_per_gpu == 2 and config_hash(tuned) == config_hash(plain)
    assert run_name(tuned, ["launcher.jobs_per_gpu=2", "launcher.gpu_mib_per_job=1024"]) == run_name(plain)


def test_a_sweep_with_launcher_settings_out_of_range_stops_in_one_line(compose_cfg, capsys):
    from normbench.launch.launchers import exit_if_launcher_settings_bad

    exit_if_launcher_settings_bad(compose_cfg("launcher=local", hydra=True))  # the defaults pass
    with pytest.raises(SystemExit) as stop:
        exit_if_launcher_settings_bad(compose_cfg("launcher=local", "launcher.gpu_mib_per_job=0", hydra=True))
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "normbench: error: launcher.gpu_mib_per_job=0 must be positive (MiB of GPU memory per job)")
