"""Per-run global state. Launcher workers (joblib's loky) are reused between jobs, so every run sets all
of it afresh instead of trusting what the previous job left behind."""

import os
import random

import numpy as np
import torch


def reset_global_state(seed: int, deterministic: bool, num_threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS needs this before its first call to be deterministic.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = deterministic
    if num_threads > 0:
        torch.set_num_threads(num_threads)
