"""The BN family's layers: `BatchFamilyNorm`, the base of every normbench norm whose statistics run across the
batch (BN in the step role, batch renorm, ghost BN, switchable norm): one place that keeps statistics per time
step and that `eval_stats.py` knows how to switch to batch statistics or refill with precise statistics; and
`StepwiseBatchNorm`, BN with statistics per time step inside a recurrent cell (Cooijmans et al. 2016).
"""

from abc import ABCMeta, abstractmethod

import torch
import torch.nn.functional as F
from torch import nn


class BatchFamilyNorm(nn.Module, metaclass=ABCMeta):
    """Statistics across the batch, kept in `slots` sets of running statistics of shape (slots, C).

    Non-recurrent roles (stepwise=False) keep one set and are called as norm(x), x of shape (N, C, *positions).
    In the step role (stepwise=True) time step t < slots has its own set and later steps reuse the last one
    (Cooijmans et al. 2016); called as norm(x, t) with x (N, F) for step t, or (N, T, F) for steps t..t+T-1.
    Running statistics set to None (track_running_stats=False, or inside `evaluation_statistics(..., "batch")`)
    mean batch statistics in training and evaluation alike.

    Subclasses implement `_normalize(x, first, steps)`: x of shape (N, steps*C, *positions), the layout
    F.batch_norm reads, holds `steps` consecutive time steps side by side (channel index s*C + c) that use
    slots first..first+steps-1; steps = 1 outside the step role, where x is the input itself.
    """

    def __init__(self, num_features: int, slots: int, *, eps: float, momentum: float, affine: bool,
                 track_running_stats: bool, gamma: float = 1.0, stepwise: bool = False):
        super().__init__()
        self.num_features, self.slots, self.stepwise = num_features, slots, stepwise
        self.eps, self.momentum, self.track_running_stats = eps, momentum, track_running_stats
        self.weight = nn.Parameter(torch.full((num_features,), float(gamma))) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        running = track_running_stats
        self.register_buffer("running_mean", torch.zeros(slots, num_features) if running else None)
        self.register_buffer("running_var", torch.ones(slots, num_features) if running else None)

    def forward(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        if not self.stepwise:
            return self._normalize(x, 0, 1)
        if x.dim() == 2:  # one step: (N, F) is already the flat layout
            return self._normalize(x, min(t, self.slots - 1), 1)
        outputs = [
            self._normalize(flat_channels(block), first, block.shape[1]).view(block.shape)
            for first, block in self.statistics_blocks(x, t)
        ]
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)

    def statistics_blocks(self, x: torch.Tensor, t: int = 0) -> list[tuple[int, torch.Tensor]]:
        """The input cut into the pieces that share a statistics call, as (first slot, (N, S, C, *positions)).

        Steps below `slots` have distinct statistics, so they go together as one block; steps beyond it
        share the last slot and come one by one, in order, so running statistics update as per-step calls would.
        """
        if not self.stepwise or x.dim() == 2:
            return [(min(t, self.slots - 1) if self.stepwise else 0, x.unsqueeze(1))]
        steps = x.shape[1]
        distinct = max(0, min(steps, self.slots - t))
        blocks = [(t, x[:, :distinct])] if distinct else []
        return blocks + [(self.slots - 1, x[:, s : s + 1]) for s in range(distinct, steps)]

    @abstractmethod
    def _normalize(self, x: torch.Tensor, first: int, steps: int) -> torch.Tensor:
        """Normalize x, whose channels are `steps` consecutive slots' channels side by side, from slot `first`."""

    def _uses_batch_statistics(self) -> bool:
        return self.training or self.running_mean is None

    def _running(self, first: int, count: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Flat (count*C,) views of slots first..first+count-1: contiguous rows, so updates land in the buffers."""
        if self.running_mean is None:
            return None, None
        if count == 1:
            return self.running_mean[first], self.running_var[first]
        return self.running_mean[first : first + count].view(-1), self.running_var[first : first + count].view(-1)

    def _affine(self, count: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Gain and bias for `count` steps side by side: shared across steps, as in Cooijmans et al."""
        if self.weight is None:
            return None, None
        if count == 1:
            return self.weight, self.bias
        return self.weight.repeat(count), self.bias.repeat(count)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, slots={self.slots}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.weight is not None}, track_running_stats={self.track_running_stats}")


def flat_channels(block: torch.Tensor) -> torch.Tensor:
    """(N, S, C, *positions) -> (N, S*C, *positions), the layout F.batch_norm reads, channel index s*C + c."""
    return block.reshape(block.shape[0], block.shape[1] * block.shape[2], *block.shape[3:])


class StepwiseBatchNorm(BatchFamilyNorm):
    """BN with separate statistics for each time step t < max_steps; later steps share the last set.

    The gain and bias are shared across steps, as in Cooijmans et al.; only the statistics are per step.
    Called as norm(x, t) with x of shape (N, F) for step t, or (N, T, F) for steps t..t+T-1.
    """

    def __init__(self, num_features, max_steps, eps, momentum, affine, track_running_stats, gamma):
        super().__init__(num_features, max_steps, eps=eps, momentum=momentum, affine=affine,
                         track_running_stats=track_running_stats, gamma=gamma, stepwise=True)
        self.max_steps = max_steps

    def _normalize(self, x: torch.Tensor, first: int, steps: int) -> torch.Tensor:
        mean, var = self._running(first, steps)
        weight, bias = self._affine(steps)
        return F.batch_norm(x, mean, var, weight, bias, self.training or mean is None, self.momentum, self.eps)
