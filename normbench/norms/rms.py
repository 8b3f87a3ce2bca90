"""RMSNorm (Zhang & Sennrich 2019): each sample divided by the root mean square of its features.

No mean subtraction and a gain only (no bias). On conv maps the RMS runs over (channels, positions)
with one gain per channel, the same convention as LayerNorm here. On a Transformer's tokens (N, T, D): each
token across its D features.
"""

import torch
import torch.nn.functional as F
from torch import nn

from normbench.norms._registry import register_norm
from normbench.norms._step import EachStep


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


@register_norm("rms", roles=("features", "map1d", "map2d", "step", "tokens"), shifts=False)  # a gain, no shift
def build(cfg, site):
    if site.role in ("map1d", "map2d"):
        return ChannelRMSNorm(site.num_features, cfg.eps, cfg.affine)
    norm = nn.RMSNorm(site.num_features, eps=cfg.eps, elementwise_affine=cfg.affine)
    return EachStep(norm) if site.role == "step" else norm
