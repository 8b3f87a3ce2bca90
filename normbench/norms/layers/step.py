"""Adapters that let per-sample norms act inside a recurrent cell, where they are called as norm(x, t)."""

import torch
import torch.nn.functional as F
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


def stacked_step_norm(norms: list[nn.Module]):
    """`f(x, t)` normalizing x (D, N, F) with norms[d] on slice d at step t: the same norm of D recurrence
    directions, each with its own parameters (and statistics), called side by side.

    Per-sample LayerNorms (Ba et al.: statistics of each sample and step alone) need nothing from the other
    directions: one layer_norm over all of them, then each direction's gain and bias in one op. Any other norm
    (per-step batch statistics, which each direction keeps for itself) runs once per direction.
    """
    if len(norms) > 1 and all(type(n) is EachStep and type(n.norm) is nn.LayerNorm for n in norms):
        return _stacked_layer_norm([n.norm for n in norms])
    if len(norms) == 1:
        return lambda x, t: norms[0](x[0], t).unsqueeze(0)
    return lambda x, t: torch.stack([norm(part, t) for norm, part in zip(norms, x.unbind(0))])


def _stacked_layer_norm(norms: list[nn.LayerNorm]):
    """At least fp32 under mixed precision, as each norm by itself would be (engine.precision)."""
    shape, eps = norms[0].normalized_shape, norms[0].eps

    def normalized(x):
        return F.layer_norm(x.to(torch.promote_types(x.dtype, torch.float32)), shape, eps=eps)

    if norms[0].weight is None:
        return lambda x, t: normalized(x)
    weight = torch.stack([n.weight for n in norms]).unsqueeze(1)  # (D, 1, F): stacked once per forward
    if norms[0].bias is None:
        return lambda x, t: normalized(x) * weight
    bias = torch.stack([n.bias for n in norms]).unsqueeze(1)
    return lambda x, t: torch.addcmul(bias, normalized(x), weight)
