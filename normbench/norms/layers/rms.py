"""RMSNorm on conv maps: the root mean square over (channels, positions) with one gain per channel, a layer
torch.nn does not have (normbench/norms/rms.py builds it).
"""

import torch
import torch.nn.functional as F
from torch import nn


class ChannelRMSNorm(nn.Module):
    def __init__(self, channels: int, eps: float, affine: bool):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.rms_norm(x, x.shape[1:], eps=self.eps)
        if self.weight is None:
            return y
        return y * self.weight.view(1, -1, *([1] * (x.dim() - 2)))
