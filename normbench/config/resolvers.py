"""normbench's OmegaConf resolvers, usable in any config: `${nb_run_name:}`, `${nb_run_dir:}`, `${nb_job_subdir:}`,
`${nb_experiment_dir:}`, `${nb_div:a,b}`,
`${nb_scaled_lr:rule,base_lr,batch_size,base_batch_size}`, `${nb_local_jobs:device,jobs_per_gpu,gpu_mib_per_job}`."""

import math

from omegaconf import DictConfig, OmegaConf

from normbench.config import placement
from normbench.launch.gpu_jobs import local_jobs
from normbench.rundir.identity import run_name


def _run_name(*, _root_: DictConfig) -> str:
    return run_name(_root_, _root_.hydra.overrides.task)


def _run_dir(*, _root_: DictConfig) -> str:
    return str(placement.run_dir(_root_, _run_name(_root_=_root_)))


def _job_subdir(*, _root_: DictConfig) -> str:
    return placement.job_subdir(_root_, _run_name(_root_=_root_))


def _experiment_dir(*, _root_: DictConfig) -> str:
    return str(placement.experiment_dir(_root_))


def _div(numerator, denominator) -> int:
    """`${nb_div:a,b}`: a // b, at least 1. E.g. a budget of training samples as steps: samples // batch_size."""
    return max(1, int(numerator) // int(denominator))


LR_SCALING = {"linear": 1.0, "sqrt": 0.5, "none": 0.0}


def _scaled_lr(rule, base_lr, batch_size, base_batch_size) -> float:
    """`${nb_scaled_lr:rule,base_lr,batch_size,base_batch_size}`: base_lr x (batch_size / base_batch_size)^p,
    p = 1 for `linear` (Goyal et al. 2017; Wu & He 2018's 0.1 x N/32), 0.5 for `sqrt` (Adam: Malladi et al.
    2022), 0 for `none`."""
    if rule not in LR_SCALING:
        raise ValueError(f"nb_scaled_lr: unknown rule {rule!r}; choose one of: {', '.join(LR_SCALING)}")
    return float(base_lr) * math.pow(int(batch_size) / int(base_batch_size), LR_SCALING[rule])


def _local_jobs(device, jobs_per_gpu, gpu_mib_per_job) -> int:
    """`${nb_local_jobs:device,jobs_per_gpu,gpu_mib_per_job}`: launcher=local's n_jobs, one job per usable core
    (-1) unless `device` trains on GPUs: then jobs per GPU from their memory and the cores
    (normbench/launch/gpu_jobs.py). Resolved in the sweep's process when Hydra instantiates the launcher."""
    from normbench.launch.job_resources import usable_cpus  # here: only a launcher=local sweep needs it

    return local_jobs(str(device), int(jobs_per_gpu), int(gpu_mib_per_job), usable_cpus())


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("nb_run_name", _run_name, replace=True)
    OmegaConf.register_new_resolver("nb_run_dir", _run_dir, replace=True)
    OmegaConf.register_new_resolver("nb_job_subdir", _job_subdir, replace=True)
    OmegaConf.register_new_resolver("nb_experiment_dir", _experiment_dir, replace=True)
    OmegaConf.register_new_resolver("nb_div", _div, replace=True)
    OmegaConf.register_new_resolver("nb_scaled_lr", _scaled_lr, replace=True)
    OmegaConf.register_new_resolver("nb_local_jobs", _local_jobs, replace=True)
