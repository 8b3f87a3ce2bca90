"""How one job of a sweep shares the machine with the others: CPU threads, GPU choice, progress output.

No launcher does this for us: every job's torch opens a thread pool as wide as the machine (N parallel
jobs x N threads oversubscribe the CPU, pytorch #19163), and no launcher assigns GPUs per job (hydra #1331).
Only settings that change how a run is carried out are touched (`num_threads`, `device`, `progress`,
all outside a run's identity), so a run's name and config hash do not depend on the launcher. (Its numbers
can, in the last bits: a different thread count sums in a different order. summary.json records it.)
"""

import os

from omegaconf import DictConfig

from normbench.launch.tally import sweep_total


def usable_cpus() -> int:
    """CPUs this process may run on (a SLURM allocation or taskset narrows it), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def launcher_kind(launcher_cfg) -> str:
    """basic | joblib | submitit_local | submitit_slurm | other, from the launcher's `_target_` class
    (a subclass named after its base counts as it: normbench's NormbenchSlurmLauncher is submitit_slurm)."""
    name = str((launcher_cfg or {}).get("_target_", "")).rsplit(".", 1)[-1]
    kinds = {"BasicLauncher": "basic", "JoblibLauncher": "joblib", "LocalLauncher": "submitit_local",
             "SlurmLauncher": "submitit_slurm"}
    return next((kind for base, kind in kinds.items() if name.endswith(base)), "other")


def joblib_workers(n_jobs: int, cpus: int) -> int:
    """joblib's reading of n_jobs: -1 = all CPUs, -2 = all but one, ..., a positive number as given."""
    return n_jobs if n_jobs > 0 else max(1, cpus + 1 + n_jobs)


def threads_per_job(launcher_cfg, cpus: int, total_jobs: int | None) -> int:
    """Intra-op threads for one job: its share of the CPUs among the jobs running at once."""
    kind = launcher_kind(launcher_cfg)
    if kind in ("submitit_local", "submitit_slurm") and launcher_cfg.get("cpus_per_task"):
        return int(launcher_cfg.cpus_per_task)  # the job's own allocation
    if kind == "joblib":
        # launcher=local's n_jobs resolves here as in the sweep's process: jobs per GPU on a GPU host (gpu_jobs.py)
        concurrent = joblib_workers(int(launcher_cfg.n_jobs), cpus)
    elif kind == "submitit_local":
        concurrent = total_jobs or 1  # submitit's local executor starts every job at once
    else:
        concurrent = 1  # basic: one job at a time; SLURM: the affinity mask is already this job's share
    if total_jobs:
        concurrent = min(concurrent, total_jobs)  # a sweep smaller than the pool leaves cores free
    return max(1, cpus // concurrent)


def device_for_job(device: str, job_num: int) -> str:
    """device=auto on a host with several GPUs: spread jobs round-robin, `cuda:{job_num % n_gpus}`."""
    if device != "auto":
        return device
    import torch  # only here: the task imports torch anyway, Hydra's start-up must not

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"cuda:{job_num % count}" if count > 1 else device


def fit_job_to_launcher(cfg: DictConfig, hydra_cfg) -> None:
    """Set threads, device and progress output of one sweep job (in place, on the job's own config copy)."""
    launcher_cfg = hydra_cfg.launcher
    if cfg.num_threads == 0:
        cfg.num_threads = threads_per_job(launcher_cfg, usable_cpus(), sweep_total())
    cfg.device = device_for_job(cfg.device, int(hydra_cfg.job.num))
    if launcher_kind(launcher_cfg) != "basic":
        # Parallel jobs share one terminal: bars or per-run lines from each would interleave into noise.
        # The sweep's own "k/N done" lines (normbench.launch.tally) report progress instead.
        cfg.progress = False
