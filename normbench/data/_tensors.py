"""The tensors of data read from files: numpy inputs as float32 tensors of the sample shape (checked finite),
standardized with the training set's mean and standard deviation. normbench/data/_files.py's `make_splits`
imports this module when data are loaded: the data sets' schemas never wait for torch."""

import numpy as np
import torch

from normbench.errors import ConfigError


def as_inputs(x: np.ndarray, shape: tuple, source: str) -> torch.Tensor:
    if x.dtype.kind not in "iufb":
        raise ConfigError(f"{source}: inputs must be numbers, got {x.dtype}")
    tensor = torch.as_tensor(np.ascontiguousarray(x)).to(torch.float32).reshape(len(x), *shape)
    if not torch.isfinite(tensor).all():
        raise ConfigError(f"{source}: inputs hold NaN or infinite values")
    return tensor


def standardize(x_train: torch.Tensor, x_test: torch.Tensor):
    """Both splits shifted and scaled by the training set's mean and standard deviation: per channel (axis 1)
    for samples of shape [C, ...], per feature for vectors [F]. A constant channel or feature keeps std 1."""
    axis = "feature" if x_train.dim() == 2 else "channel"
    flat = x_train.reshape(len(x_train), x_train.shape[1], -1).transpose(0, 1).reshape(x_train.shape[1], -1)
    std, mean = torch.std_mean(flat.double(), dim=1, correction=0) if flat.numel() <= 1 << 26 else _chunked(flat)
    std = torch.where(std > 0, std, torch.ones_like(std))
    view = (1, -1) + (1,) * (x_train.dim() - 2)
    shift, scale = mean.float().reshape(view), std.float().reshape(view)
    record = {"axis": axis, "mean": [float(v) for v in mean], "std": [float(v) for v in std]}
    return (x_train - shift) / scale, (x_test - shift) / scale, record


def apply_standardization(x: torch.Tensor, record: dict) -> torch.Tensor:
    """`x` shifted and scaled as `standardize` did the training set (its recorded statistics)."""
    view = (1, -1) + (1,) * (x.dim() - 2)
    shift = torch.tensor(record["mean"], dtype=torch.float64).float().reshape(view)
    scale = torch.tensor(record["std"], dtype=torch.float64).float().reshape(view)
    return (x - shift) / scale


def _chunked(flat: torch.Tensor):
    """Mean and population std per row, in float64, a chunk of columns at a time (large image sets)."""
    total = torch.zeros(flat.shape[0], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for start in range(0, flat.shape[1], 1 << 22):
        block = flat[:, start:start + (1 << 22)].double()
        total += block.sum(dim=1)
        squares += (block * block).sum(dim=1)
    count = flat.shape[1]
    mean = total / count
    return (squares / count - mean * mean).clamp_min(0).sqrt(), mean
