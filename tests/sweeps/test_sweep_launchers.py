"""Launchers: joblib (launcher=local) and submitit_local with 2 jobs for real; thread shares, GPU choice and
global-state resets that every parallel job relies on."""

import json
import os
import subprocess

import pytest
import torch
from omegaconf import OmegaConf

from normbench.engine.seeding import DEFAULT_THREADS, reset_global_state
from normbench.launch.job_resources import device_for_job, fit_job_to_launcher, threads_per_job, usable_cpus

from .conftest import run_dirs, summaries, tally_counts, tiny_sweep


def _ledger(study):
    (sweep,) = (study / ".sweeps").iterdir()
    return [json.loads(path.read_text()) for path in sorted(sweep.glob("job-*.json"))]


def test_joblib_runs_jobs_in_worker_processes_with_a_share_of_the_cores(finished_tiny_sweep, tmp_path):
    # Two GPUs of 4096 MiB (a fake nvidia-smi): launcher=local's n_jobs resolves to one job per GPU, 2 at once,
    # in the sweep's process (Hydra's launcher) and in each job (its thread share). CUDA_VISIBLE_DEVICES names
    # the fake GPUs by UUID, which no real GPU has: on any host, CUDA sees none and device=auto trains on the CPU.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho '0, GPU-aaaa, 4096'\necho '1, GPU-bbbb, 4096'\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CUDA_VISIBLE_DEVICES": "GPU-aaaa,GPU-bbbb"}
    results = tmp_path / "results"
    main = tiny_sweep(results, finished_tiny_sweep / "conf", "seed=0,1", "launcher=local", "num_threads=0",
                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = main.communicate(timeout=240)
    assert main.returncode == 0, stderr
    assert "Joblib.Parallel(n_jobs=2," in stdout  # Hydra's log of the launcher it built
    assert tally_counts(stdout)["completed"] == 2
    study = results / "tiny"
    for summary in summaries(study).values():
        assert summary["num_threads"] == max(1, usable_cpus() // 2)  # cpus // n_jobs, not every core each
    assert all(record["pid"] != main.pid for record in _ledger(study))  # ran in loky workers
    assert "sweep: 2/2 runs done" in stderr  # progress lines from the workers
    # the launcher changes how runs are carried out, not what they are: same names and hashes as a basic sweep
    basic = summaries(finished_tiny_sweep / "results" / "tiny")
    assert {n: s["config_hash"] for n, s in summaries(study).items()} == {
        n: basic[n]["config_hash"] for n in summaries(study)}


def test_submitit_local_runs_two_jobs(finished_tiny_sweep, tmp_path):
    results = tmp_path / "results"
    out = tiny_sweep(results, finished_tiny_sweep / "conf", "seed=0,1", "launcher=submitit_local")
    assert out.returncode == 0, out.stderr
    assert tally_counts(out.stdout)["completed"] == 2
    study = results / "tiny"
    assert [s["status"] for s in summaries(study).values()] == ["completed", "completed"]
    assert len(list((study / ".submitit").glob("*/*_result.pkl"))) == 2  # two submitit jobs, each with a result
    # the jobs log into their own files; the submitting process watches the ledger and logs the progress
    terminal = out.stdout + out.stderr  # (Hydra's own log, in the submitting process, goes to stdout)
    assert "sweep: 1/2 runs done" in terminal and "sweep: 2/2 runs done" in terminal
    # the preset switches checkpoints on (as for SLURM) without changing the runs' identity
    assert "checkpoint_interval: 250" in (run_dirs(study)[0] / ".hydra" / "config.yaml").read_text()
    basic = summaries(finished_tiny_sweep / "results" / "tiny")
    assert all(s["config_hash"] == basic[name]["config_hash"] for name, s in summaries(study).items())


def _launcher(target, **params):
    return OmegaConf.create({"_target_": f"hydra_plugins.some_plugin.{target}", **params})


@pytest.mark.parametrize("launcher, cpus, total, expected", [
    (_launcher("BasicLauncher"), 8, 27, 8),  # one job at a time: all cores
    (_launcher("JoblibLauncher", n_jobs=2), 2, 27, 1),  # this machine: 2 jobs x 1 thread
    (_launcher("JoblibLauncher", n_jobs=-1), 8, 27, 1),  # one job per core
    (_launcher("JoblibLauncher", n_jobs=-2), 8, 27, 1),  # all cores but one: 7 jobs, 1 thread each
    (_launcher("JoblibLauncher", n_jobs=2), 8, 27, 4),
    (_launcher("JoblibLauncher", n_jobs=4), 8, 1, 8),  # a one-run sweep leaves the pool idle: take every core
    (_launcher("LocalLauncher", cpus_per_task=None), 2, 2, 1),  # submitit_local starts all jobs at once
    (_launcher("SlurmLauncher", cpus_per_task=4), 64, 27, 4),  # a SLURM job gets its own allocation
])
def test_threads_per_job_share_the_cpus_among_concurrent_jobs(launcher, cpus, total, expected):
    assert threads_per_job(launcher, cpus, total) == expected


def test_device_auto_spreads_jobs_over_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert [device_for_job("auto", job) for job in (0, 1, 5, 7)] == ["cuda:0", "cuda:1", "cuda:1", "cuda:3"]
    assert device_for_job("cpu", 5) == "cpu" and device_for_job("cuda:2", 5) == "cuda:2"  # explicit wins
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert device_for_job("auto", 5) == "auto"  # one GPU: auto picks it


def test_parallel_jobs_get_thread_share_and_quiet_progress():
    cfg = OmegaConf.create({"num_threads": 0, "device": "cpu", "progress": True})
    hydra_cfg = OmegaConf.create({"launcher": _launcher("JoblibLauncher", n_jobs=2), "job": {"num": 3}})
    fit_job_to_launcher(cfg, hydra_cfg)
    assert cfg.num_threads == max(1, usable_cpus() // 2) and cfg.progress is False
    chosen = OmegaConf.create({"num_threads": 3, "device": "cpu", "progress": True})
    fit_job_to_launcher(chosen, OmegaConf.create({"launcher": _launcher("BasicLauncher"), "job": {"num": 0}}))
    assert chosen.num_threads == 3 and chosen.progress is True  # an explicit choice stands; basic keeps its bar


def test_each_run_resets_what_a_previous_job_in_the_same_worker_left_behind():
    torch.set_num_threads(DEFAULT_THREADS + 1)  # whatever it was, not the default
    torch.set_grad_enabled(False)
    torch.autograd.set_detect_anomaly(True)
    torch.set_default_dtype(torch.float64)
    torch.set_float32_matmul_precision("medium")
    torch.backends.cudnn.benchmark = True
    try:
        reset_global_state(seed=3, deterministic=False, num_threads=0)
        assert torch.get_num_threads() == DEFAULT_THREADS
        assert torch.is_grad_enabled() and not torch.is_anomaly_enabled()
        assert torch.get_default_dtype() == torch.float32
        assert torch.get_float32_matmul_precision() == "highest"
        assert not torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
        first = torch.rand(3)
        reset_global_state(seed=3, deterministic=False, num_threads=0)
        assert torch.equal(torch.rand(3), first)  # the seed is set afresh too
    finally:
        reset_global_state(seed=0, deterministic=False, num_threads=0)
