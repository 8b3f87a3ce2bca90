"""Device choice: auto = cuda, else mps, else cpu; an explicit device must exist."""

import torch

from normbench.errors import ConfigError


def _mps_available() -> bool:
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    kind = name.split(":")[0]
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name} but CUDA is not available on this machine; use device=cpu or device=auto")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device={name} but this machine has {torch.cuda.device_count()} CUDA device(s)")
    if kind == "mps" and not _mps_available():
        raise ConfigError(f"device={name} but MPS is not available on this machine; use device=cpu or device=auto")
    return torch.device(name)
