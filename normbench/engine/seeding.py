"""Per-run global state. Launcher workers (joblib's loky) are reused between jobs, so every run sets all
of it afresh instead of trusting what the previous job left behind (hydra #2187)."""

import logging
import os
import random
import sys

import numpy as np
import torch

log = logging.getLogger("normbench")

# torch's own choice of intra-op threads (its count of physical cores), taken before any run changes it.
DEFAULT_THREADS = torch.get_num_threads()


def reset_global_state(seed: int, deterministic: bool, num_threads: int) -> None:
    """Seeds, determinism flags, thread count and torch's process-wide defaults, all to this run's values.

    num_threads=0 means torch's default: set explicitly all the same, since a reused worker may still
    hold the thread count of a previous job. (In a sweep, normbench.launch.job_resources has already replaced 0
    by the job's share of the CPUs.)
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS reads this when CUDA starts in the process: a run that is not the first to use CUDA here (an
        # in-process sweep, a reused launcher worker) gets it only if it was in the environment from the start.
        if "CUBLAS_WORKSPACE_CONFIG" not in os.environ and torch.cuda.is_initialized():
            log.warning("deterministic=true in a process where CUDA has already started: cuBLAS may stay "
                        "nondeterministic; set CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment before starting")
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    _use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = deterministic
    torch.set_num_threads(num_threads if num_threads > 0 else DEFAULT_THREADS)
    _reset_torch_defaults()


def _use_deterministic_algorithms(mode: bool) -> None:
    """`torch.use_deterministic_algorithms(mode)`, skipped when it would change nothing: it imports
    torch._inductor (and with it torch._dynamo, ~1.2 s) to set inductor's own flag, which a process that
    never imported inductor still has at its default (off, unless TORCHINDUCTOR_DETERMINISTIC=1)."""
    inductor_loaded = "torch._inductor.config" in sys.modules
    if mode or inductor_loaded or torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(mode)


def _reset_torch_defaults() -> None:
    """torch's own defaults for process-wide switches that code (ours or a user's) may flip and not undo."""
    torch.set_grad_enabled(True)
    torch.autograd.set_detect_anomaly(False)
    torch.set_default_dtype(torch.float32)
    if torch.get_default_device().type != "cpu":
        torch.set_default_device(None)
    torch.set_float32_matmul_precision("highest")  # no TF32 matmuls unless a run asks
    torch.backends.cudnn.allow_tf32 = True  # torch's default for convolutions
