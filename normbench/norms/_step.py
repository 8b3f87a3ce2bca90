"""Adapters that let per-sample norms act inside a recurrent cell, where they are called as norm(x, t)."""

import torch
from torch import nn


class EachStep(nn.Module):
    """A per-sample norm applied at every step: statistics never cross samples or steps, so the step
    index is irrelevant and (N, T, F) is normalized as N*T independent samples."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        if x.dim() == 2:
            return self.norm(x)
        return self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)
