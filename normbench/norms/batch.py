"""BatchNorm (Ioffe & Szegedy 2015): each feature/channel across the batch (and positions of conv maps).

Training normalizes with the batch's mean and biased variance; evaluation with running (EMA) statistics,
which PyTorch updates with the *unbiased* batch variance. Inside a recurrent cell each time step keeps its
own statistics (Cooijmans et al. 2016, "Recurrent Batch Normalization"), with the gain initialised to 0.1.
"""

import torch
import torch.nn.functional as F
from torch import nn

from normbench.norms._registry import register_norm

RECURRENT_GAMMA = 0.1  # Cooijmans et al.: larger gains saturate the gates and slow learning


class StepwiseBatchNorm(nn.Module):
    """BN with separate statistics for each time step t < max_steps; later steps share the last set.

    The gain and bias are shared across steps, as in Cooijmans et al.; only the statistics are per step.
    Called as norm(x, t) with x of shape (N, F) for step t, or (N, T, F) for steps t..t+T-1.
    """

    def __init__(self, num_features, max_steps, eps, momentum, affine, track_running_stats, gamma):
        super().__init__()
        self.num_features, self.max_steps = num_features, max_steps
        self.eps, self.momentum, self.track_running_stats = eps, momentum, track_running_stats
        self.weight = nn.Parameter(torch.full((num_features,), gamma)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(max_steps, num_features))
            self.register_buffer("running_var", torch.ones(max_steps, num_features))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        if x.dim() == 2:
            return self._normalize(x, t, 1)
        steps = x.shape[1]
        # Steps below max_steps have distinct statistics and are normalized together as one wide BN.
        distinct = max(0, min(steps, self.max_steps - t))
        parts = [self._normalize(x[:, :distinct].reshape(x.shape[0], -1), t, distinct)] if distinct else []
        parts += [self._normalize(x[:, s], t + s, 1) for s in range(distinct, steps)]
        if distinct == steps:
            return parts[0].reshape(x.shape)
        head = [parts[0].reshape(x.shape[0], distinct, -1)] if distinct else []
        return torch.cat(head + [p.unsqueeze(1) for p in parts[1 if distinct else 0 :]], dim=1)

    def _normalize(self, x: torch.Tensor, t: int, steps: int) -> torch.Tensor:
        first = min(t, self.max_steps - 1)
        use_batch_stats = self.training or not self.track_running_stats
        mean = var = None
        if self.track_running_stats:
            # A contiguous slice of the (max_steps, F) buffers: F.batch_norm updates it in place.
            mean = self.running_mean[first : first + steps].view(-1)
            var = self.running_var[first : first + steps].view(-1)
        weight = self.weight.repeat(steps) if self.weight is not None else None
        bias = self.bias.repeat(steps) if self.bias is not None else None
        return F.batch_norm(x, mean, var, weight, bias, use_batch_stats, self.momentum, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, max_steps={self.max_steps}, eps={self.eps}, momentum={self.momentum}"


@register_norm("batch", roles=("features", "map1d", "map2d", "step"), batch_dependent=True)
def build(cfg, site):
    common = dict(eps=cfg.eps, momentum=cfg.momentum, affine=cfg.affine, track_running_stats=cfg.track_running_stats)
    if site.role == "step":
        gamma = RECURRENT_GAMMA if cfg.gamma_init is None else cfg.gamma_init
        return StepwiseBatchNorm(site.num_features, cfg.max_time_steps, gamma=gamma, **common)
    cls = nn.BatchNorm2d if site.role == "map2d" else nn.BatchNorm1d
    norm = cls(site.num_features, **common)
    if cfg.gamma_init is not None and norm.weight is not None:
        nn.init.constant_(norm.weight, cfg.gamma_init)
    return norm
