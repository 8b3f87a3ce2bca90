"""How BN-family layers normalize at evaluation, and what the norms report for logging.

BN-family layers: PyTorch's BatchNorm modules and every normbench `BatchFamilyNorm` (BN in the step role,
batch_renorm, ghost_batch, switch's BN part). At evaluation they can normalize with
  running  the EMA statistics gathered in training (PyTorch's default),
  batch    the statistics of the evaluation batch itself,
  precise  population statistics recomputed over training batches with the weights frozen (Wu & Johnson
           2021), written into the running statistics, then used like `running`.

Precise statistics, per channel (and per time step of a stepwise layer), over B batches of m values each:
    μ_pop  = mean_b μ_b
    σ²_pop = n/(n−1) · (mean_b (μ_b² + σ²_b) − μ²_pop),   σ²_b the *biased* variance of batch b, n = B·m
The bracket is the (biased) variance of all n values pooled; the n/(n−1) makes it the unbiased estimate, the
convention of PyTorch's running_var. Feeding PyTorch's unbiased batch variances into the bracket instead
would overstate the variance by about σ²/m (50% at m = 2). Batches of unequal size are weighted by their value
counts (the pooled variance, computed with Chan's stable merge in float64). A slot that saw fewer than two
values keeps its running statistics.
"""

from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from normbench.config.options import NormConfig
from normbench.errors import ConfigError
from normbench.norms.batch import BatchNormConfig
from normbench.norms.layers.batch_family import BatchFamilyNorm
from normbench.norms.layers.hooks import ReportsScalars

EVAL_MODES = ("running", "batch")


def evaluation_policy(norm: NormConfig) -> tuple[str, int]:
    """(eval_stats, precise_batches) the run evaluates with: the BN family's settings; `running` (a no-op for
    layers without batch statistics) for every other norm."""
    if isinstance(norm, BatchNormConfig):
        return norm.eval_stats.value, norm.precise_batches
    return "running", 0


def batch_statistics_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (_BatchNorm, BatchFamilyNorm))]


def has_batch_statistics(model: nn.Module) -> bool:
    """True if any layer of the model normalizes with statistics across the batch."""
    return bool(batch_statistics_layers(model))


@contextmanager
def evaluation_statistics(model: nn.Module, mode: str) -> Iterator[None]:
    """Inside: the model in eval mode, its BN-family layers normalizing with `running` or `batch` statistics.

    `batch` hides the running statistics for the duration (a layer without them normalizes with the batch's,
    and updates nothing). On exit, even on an exception, the very same buffer tensors and every module's
    training flag are put back: nothing persists.
    """
    if mode not in EVAL_MODES:
        raise ConfigError(f"evaluation statistics {mode!r} is not allowed; choose one of: {', '.join(EVAL_MODES)}")
    flags = _training_flags(model)
    hidden = []
    try:
        model.eval()
        if mode == "batch":
            for layer in batch_statistics_layers(model):
                if layer.running_mean is not None:
                    hidden.append((layer, layer.running_mean, layer.running_var))
                    layer.running_mean = layer.running_var = None
        yield
    finally:
        for layer, mean, var in hidden:
            layer.running_mean, layer.running_var = mean, var
        _restore_training_flags(flags)


def recompute_precise_statistics(model: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Precise BN: run `batches` through the model in train mode without gradients and set every BN-family
    layer's running statistics to the population statistics of its inputs (formula in the module docstring).

    Parameters, training flags and all other buffers (e.g. num_batches_tracked) are left as they were; the
    layers' own EMA updates during the pass are undone before the precise values are written.
    """
    layers = [layer for layer in batch_statistics_layers(model) if layer.running_mean is not None]
    if not layers:
        return
    moments = {layer: PooledMoments(*_slot_shape(layer)) for layer in layers}
    saved = {layer: [buffer.clone() for buffer in layer.buffers(recurse=False)] for layer in layers}
    hooks = [layer.register_forward_pre_hook(_observer(moments[layer]), with_kwargs=True) for layer in layers]
    flags = _training_flags(model)
    try:
        model.train()
        with torch.no_grad():
            for batch in batches:
                model(batch)
    finally:
        for hook in hooks:
            hook.remove()
        _restore_training_flags(flags)
        with torch.no_grad():
            for layer, buffers in saved.items():
                for buffer, before in zip(layer.buffers(recurse=False), buffers):
                    buffer.copy_(before)
    for layer, pooled in moments.items():
        pooled.write_into(layer)


def norm_scalars(model: nn.Module) -> dict[str, float]:
    """Scalars the model's layers report (ReportsScalars), e.g. switchable norm's mixture weights per layer
    and batch renorm's clipping limits now in force."""
    scalars: dict[str, float] = {}
    for name, module in model.named_modules():
        if isinstance(module, ReportsScalars):
            scalars.update(module.scalars(name))
    return scalars


class PooledMoments:
    """Count, mean and sum of squared deviations per (slot, channel), merged batch by batch (Chan et al.)."""

    def __init__(self, slots: int, channels: int):
        self.count = torch.zeros(slots, 1, dtype=torch.float64)
        self.mean = torch.zeros(slots, channels, dtype=torch.float64)
        self.m2 = torch.zeros(slots, channels, dtype=torch.float64)

    def add(self, first: int, block: torch.Tensor) -> None:
        """block (N, S, C, *positions): one batch's values for slots first..first+S-1."""
        # One batch's moments where the batch lives (in its dtype: float64 is not on every device), merged on
        # the CPU in float64.
        reduce = [0, *range(3, block.dim())]
        count = float(block.numel() // (block.shape[1] * block.shape[2]))
        block = block.detach()
        mean = block.mean(dim=reduce, keepdim=True)  # two passes of plain means: var_mean is slow on CPU here
        var = (block - mean).square().mean(dim=reduce)
        mean, var = mean.reshape(var.shape).to("cpu", torch.float64), var.to("cpu", torch.float64)
        rows = slice(first, first + block.shape[1])
        total = self.count[rows] + count
        delta = mean - self.mean[rows]
        self.m2[rows] += var * count + delta.square() * self.count[rows] * count / total
        self.mean[rows] += delta * count / total
        self.count[rows] = total

    def write_into(self, layer: nn.Module) -> None:
        seen = self.count[:, 0] >= 2
        running_mean, running_var = _as_slots(layer.running_mean), _as_slots(layer.running_var)
        with torch.no_grad():
            running_mean[seen] = self.mean[seen].to(running_mean)
            running_var[seen] = (self.m2[seen] / (self.count[seen] - 1)).to(running_var)


def _observer(moments: PooledMoments):
    def observe(layer, args, kwargs):
        x = args[0]
        if isinstance(layer, BatchFamilyNorm):
            t = args[1] if len(args) > 1 else kwargs.get("t", 0)
            blocks = layer.statistics_blocks(x, t)
        else:  # PyTorch BN: channels on axis 1, one set of statistics
            blocks = [(0, x.unsqueeze(1))]
        for first, block in blocks:
            moments.add(first, block)

    return observe


def _slot_shape(layer: nn.Module) -> tuple[int, int]:
    shape = _as_slots(layer.running_mean).shape
    return shape[0], shape[1]


def _as_slots(buffer: torch.Tensor) -> torch.Tensor:
    """A (C,) PyTorch BN buffer as one slot (1, C), a view that writes through; (slots, C) ones as they are."""
    return buffer.view(1, -1) if buffer.dim() == 1 else buffer


def _training_flags(model: nn.Module) -> dict[nn.Module, bool]:
    return {module: module.training for module in model.modules()}


def _restore_training_flags(flags: dict[nn.Module, bool]) -> None:
    for module, training in flags.items():
        module.training = training
