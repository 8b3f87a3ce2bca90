"""Mean-only batch normalization (Salimans & Kingma 2016, "Weight Normalization", section 3): each channel
has the batch mean subtracted (across samples and positions) and a learned bias added; there is no division
by a standard deviation. Evaluation subtracts a running mean instead, kept as PyTorch's BN keeps its own.

A normbench plugin, as a user writes one: this file and configs/norm/mean_only.yaml, nothing else.

    normbench train user_dir=examples/plugins norm=mean_only model=cnn
"""

import torch
from torch import nn

from normbench import register_norm

MOMENTUM = 0.1  # the running mean's update rate, PyTorch's BN default


class MeanOnlyBatchNorm(nn.Module):
    def __init__(self, num_features: int, affine: bool = True, momentum: float = MOMENTUM):
        super().__init__()
        self.momentum = momentum
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C) or (N, C, *positions), channels first."""
        if self.training:
            mean = x.mean(dim=[0, *range(2, x.dim())])
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
        else:
            mean = self.running_mean
        shape = (1, -1) + (1,) * (x.dim() - 2)
        y = x - mean.view(shape)
        return y if self.bias is None else y + self.bias.view(shape)


# No hyperparameters of its own: the shared NormConfig (eps, affine) is its schema; eps goes unused.
@register_norm("mean_only", roles=("features", "map1d", "map2d"), batch_dependent=True)
def build(cfg, site):
    return MeanOnlyBatchNorm(site.num_features, affine=cfg.affine)
