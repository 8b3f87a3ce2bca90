"""launcher=local on a GPU host: how many of a sweep's jobs run at once, from the GPUs' memory and the host's cores.

Hydra's joblib launcher keeps `n_jobs` worker processes busy. One job per core (n_jobs=-1) is right on a CPU
host, but on a 16-core host with one GPU it puts 16 jobs on that GPU however much memory each needs. The
default models are launch-bound on a GPU (issue 11: a run keeps it busy a fraction of the time), so a few
jobs per GPU fill the gaps between one another's kernels, each launching from a core of its own; how many fit
is a question of memory. The rule (`jobs_at_once`): every GPU the sweep uses gets the same number of jobs (they
are spread round-robin, normbench.launch.job_resources.device_for_job), as many as the smallest of those GPUs
holds at `launcher.gpu_mib_per_job` each, at most its share of the cores and at least one;
`launcher.jobs_per_gpu=K` sets that number instead, and `hydra.launcher.n_jobs=K` sets the total.

configs/launcher/local.yaml sets `hydra.launcher.n_jobs: ${nb_local_jobs:...}` (normbench/config/resolvers.py).
Hydra resolves it in the sweep's own process when it instantiates the launcher, and again in each job, where
its thread share is computed from it (job_resources.threads_per_job). The GPUs are read from `nvidia-smi`, not
torch: the sweep's process stays torch-free (a cheap start) and never opens a CUDA context.
"""

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from normbench.errors import ConfigError

log = logging.getLogger("normbench")

ALL_CORES = -1  # joblib's n_jobs for one job per usable core: launcher=local on a host without GPUs
NVIDIA_SMI = "nvidia-smi"
QUERY = ("--query-gpu=index,uuid,memory.total", "--format=csv,noheader,nounits")
# nvidia-smi answers in tens of milliseconds with the driver loaded, seconds when it must wake the GPUs
# (persistence mode off); longer means something is wrong, and the sweep should not wait on it.
QUERY_TIMEOUT_S = 10.0
# The GPU memory one job is expected to need, the default of `launcher.gpu_mib_per_job`. Not measured here
# (no GPU): estimated from sizes. Each process pays its own CUDA context with PyTorch's kernels (several
# hundred MiB before any tensor); the default MNIST-1D models, their optimizer state and their device-resident
# data add a few MiB; torchvision's resnet18 at batch 100 on CIFAR-10 adds about 45 MiB of weights (x4 with Adam's
# state and the gradients), activations of the order of a GiB, and the data set kept on the device (737 MB as
# float32). 4 GiB holds the larger case with room for the caching allocator's slack; an 80 GiB GPU then takes
# 19 jobs, more than most hosts have cores per GPU, so on such hosts the cores decide.
DEFAULT_MIB_PER_JOB = 4096


@dataclass(frozen=True)
class Gpu:
    # nvidia-smi's, in PCI bus order. CUDA_VISIBLE_DEVICES's integers and `cuda:N` count fastest first unless
    # CUDA_DEVICE_ORDER=PCI_BUS_ID: the same order on a host of identical GPUs (ties go by bus), where it matters
    # least; on a mixed host `auto` uses the smallest GPU's memory anyway.
    index: int
    uuid: str
    memory_mib: int


def jobs_at_once(gpu_mib: list[int], cpus: int, mib_per_job: int, jobs_per_gpu: int = 0) -> int:
    """joblib's n_jobs for a sweep on GPUs with `gpu_mib` MiB each: `jobs_per_gpu` per GPU if given (> 0), else
    as many as the smallest GPU holds at `mib_per_job` each, at most each GPU's share of `cpus`, at least one.
    No GPU: ALL_CORES, one job per core."""
    if not gpu_mib:
        return ALL_CORES
    if jobs_per_gpu > 0:
        return jobs_per_gpu * len(gpu_mib)
    fit = min(gpu_mib) // mib_per_job
    per_gpu = max(1, min(fit, cpus // len(gpu_mib)))
    return per_gpu * len(gpu_mib)


def parse_gpus(text: str) -> list[Gpu]:
    """nvidia-smi's `index, uuid, memory.total` lines (csv, noheader, nounits: MiB)."""
    gpus = []
    for line in text.splitlines():
        if line.strip():
            index, uuid, memory = (part.strip() for part in line.split(","))
            gpus.append(Gpu(int(index), uuid, int(float(memory))))
    return gpus


def visible_gpus(gpus: list[Gpu], cuda_visible_devices: str | None) -> list[Gpu]:
    """The GPUs CUDA shows a process, in its order: CUDA_VISIBLE_DEVICES (indices or UUIDs, a UUID's prefix too)
    narrows and orders them, up to its first entry that names no GPU, as CUDA reads it. nvidia-smi ignores it."""
    if cuda_visible_devices is None:
        return list(gpus)
    chosen = []
    for entry in (part.strip() for part in cuda_visible_devices.split(",")):
        match = next((gpu for gpu in gpus if (entry.isdigit() and gpu.index == int(entry))
                      or (entry and not entry.isdigit() and gpu.uuid.startswith(entry))), None)
        if match is None or match in chosen:
            break
        chosen.append(match)
    return chosen


def gpus_for_device(device: str, gpus: list[Gpu]) -> list[Gpu]:
    """The visible GPUs a sweep's jobs train on: all of them for device=auto (jobs spread round-robin), the
    current one (the first) for `cuda`, the Nth for `cuda:N`, none for cpu, mps or an unknown name."""
    if device == "auto":
        return list(gpus)
    if device == "cuda":
        return gpus[:1]
    if device.startswith("cuda:") and device[len("cuda:"):].isdigit():
        number = int(device[len("cuda:"):])
        return gpus[number:number + 1]
    return []


def query_gpus() -> tuple[Gpu, ...]:
    """The host's GPUs from nvidia-smi (all of them, CUDA_VISIBLE_DEVICES aside); none when it is not installed,
    fails or hangs."""
    command = shutil.which(NVIDIA_SMI)
    return () if command is None else _query(command)


@lru_cache(maxsize=4)
def _query(command: str) -> tuple[Gpu, ...]:
    """Once per process: a worker of the sweep asks again for each job's thread share, and the answer stands."""
    try:
        out = subprocess.run([command, *QUERY], capture_output=True, text=True, timeout=QUERY_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return _no_gpus(f"did not answer ({error})")
    if out.returncode != 0:  # e.g. no driver loaded: nvidia-smi says why on stdout or stderr
        said = (out.stderr.strip() or out.stdout.strip() or f"exit status {out.returncode}").splitlines()[-1]
        return _no_gpus(f"failed: {said}")
    try:
        return tuple(parse_gpus(out.stdout))
    except ValueError:
        return _no_gpus(f"gave an answer that is not `index, uuid, memory` lines: {out.stdout.strip()[:200]!r}")


def _no_gpus(why: str) -> tuple[Gpu, ...]:
    log.warning("launcher=local: %s %s: one job per core, as on a host without GPUs", NVIDIA_SMI, why)
    return ()


def uses_cuda(device: str) -> bool:
    """Whether jobs with this `device` may train on a CUDA GPU (auto picks one where there is one)."""
    return device in ("auto", "cuda") or device.startswith("cuda:")


def check_settings(jobs_per_gpu: int, mib_per_job: int) -> None:
    """`launcher.jobs_per_gpu` and `launcher.gpu_mib_per_job` in range, or a one-line ConfigError."""
    if jobs_per_gpu < 0:
        raise ConfigError(f"launcher.jobs_per_gpu={jobs_per_gpu} must be >= 0 (0: as many jobs per GPU as fit "
                          f"launcher.gpu_mib_per_job each, one per core at most)")
    if mib_per_job <= 0:
        raise ConfigError(f"launcher.gpu_mib_per_job={mib_per_job} must be positive (MiB of GPU memory per job)")


def local_jobs(device: str, jobs_per_gpu: int, mib_per_job: int, cpus: int) -> int:
    """n_jobs for launcher=local: the rule of `jobs_at_once` on the GPUs `device` trains on (ALL_CORES for none)."""
    check_settings(jobs_per_gpu, mib_per_job)
    if not uses_cuda(device):
        return ALL_CORES  # a CPU sweep: no need to ask for GPUs
    gpus = gpus_for_device(device, visible_gpus(list(query_gpus()), os.environ.get("CUDA_VISIBLE_DEVICES")))
    return jobs_at_once([gpu.memory_mib for gpu in gpus], cpus, mib_per_job, jobs_per_gpu)
