"""Mixed precision (`trainer.precision`): the forward pass under autocast, every norm in fp32, and for fp16 a
gradient scaler.

Autocast runs matmuls and convolutions in bf16/fp16; the norms' statistics (means, variances, running
statistics) are computed in fp32: each norm normbench built gets its floating inputs cast to fp32, so its ops,
none of which autocast lowers, run in fp32 and return fp32 (the next matmul casts down again). PyTorch's own
norm kernels accumulate in fp32 anyway; normbench's Python norms (batch renorm, ghost BN, switchable norm)
would otherwise take their means in bf16. The loss is computed in fp32 (autocast's rule for cross-entropy).
"""

import contextlib

import torch
from torch import nn

from normbench.config.schema import Precision
from normbench.errors import ConfigError

DTYPES = {Precision.bf16: torch.bfloat16, Precision.fp16: torch.float16}


def check_precision(precision: Precision, device: torch.device) -> None:
    """fp16 needs CUDA: its gradient scaler is CUDA's, and CPUs have no fast fp16 arithmetic."""
    if precision is Precision.fp16 and device.type != "cuda":
        raise ConfigError(f"trainer.precision=fp16 needs a CUDA device (its gradient scaler); this run's device is "
                          f"{device.type}: use trainer.precision=bf16 or fp32")


class MixedPrecision:
    """What a training step needs for `precision` on `device`: `autocast()` around forward and loss, and
    `backward`/`step`/`unscale` that go through a gradient scaler for fp16 (and straight through otherwise)."""

    def __init__(self, precision: Precision, device: torch.device, norms: list[nn.Module]):
        self.precision, self.device_type = precision, device.type
        self.dtype = DTYPES.get(precision)
        self.scaler = torch.amp.GradScaler(device.type) if precision is Precision.fp16 else None
        if self.dtype is not None:
            for norm in norms:
                norm.register_forward_pre_hook(_inputs_in_float32)

    def autocast(self, cache: bool = True):
        """`cache=False` inside a CUDA graph's capture: cached casts of the weights would outlive it."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype, cache_enabled=cache)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Before gradients are read (clipping, their norm): true gradients, not scaled ones."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)  # skipped, and the scale lowered, when a gradient is not finite
        self.scaler.update()

    def state_dict(self) -> dict:
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def _inputs_in_float32(module: nn.Module, args: tuple):
    return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
