"""The Ghost Batch Normalization layer (Hoffer, Hubara & Soudry 2017): how it cuts a batch and what it updates is
described in normbench/norms/ghost_batch.py, which builds it.
"""

import torch
import torch.nn.functional as F

from normbench.norms.ghost_batch import virtual_batch_sizes
from normbench.norms.layers.batch_family import BatchFamilyNorm


class GhostBatchNorm(BatchFamilyNorm):
    def __init__(self, num_features: int, virtual_batch_size: int, **options):
        super().__init__(num_features, **options)
        self.virtual_batch_size = virtual_batch_size

    def _normalize(self, x: torch.Tensor, first: int, steps: int) -> torch.Tensor:
        mean, var = self._running(first, steps)
        weight, bias = self._affine(steps)
        if not self.training:
            return F.batch_norm(x, mean, var, weight, bias, mean is None, 0.0, self.eps)
        sizes = virtual_batch_sizes(x.shape[0], self.virtual_batch_size)
        if len(sizes) == 1:
            return F.batch_norm(x, mean, var, weight, bias, True, self.momentum, self.eps)
        # Samples are the first axis, so each virtual batch is a contiguous slice: no copy going in. One fused
        # call per virtual batch beats regrouping them as channels of one call (transposes cost more on CPU).
        return torch.cat([F.batch_norm(part, mean, var, weight, bias, True, self.momentum, self.eps)
                          for part in x.split(sizes)])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, virtual_batch_size={self.virtual_batch_size}"
