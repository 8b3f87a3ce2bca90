"""The Switchable Normalization layer (Luo et al. 2018): the statistics it mixes and how are described in
normbench/norms/switch.py, which builds it.
"""

import torch
from torch import nn

from normbench.norms.layers.batch_family import BatchFamilyNorm
from normbench.norms.layers.hooks import ReportsScalars


class SwitchNorm(BatchFamilyNorm, ReportsScalars):
    def __init__(self, num_features: int, sources: tuple[str, ...], **options):
        super().__init__(num_features, **options)
        self.sources = sources
        # λ (means) and λ' (variances): equal logits, so every statistic starts with the same weight.
        self.mean_weight = nn.Parameter(torch.ones(len(sources)))
        self.var_weight = nn.Parameter(torch.ones(len(sources)))

    def mixture_weights(self) -> dict[str, dict[str, float]]:
        """The softmax weights now in force, e.g. {"mean": {"in": .., "ln": .., "bn": ..}, "var": {...}}."""
        with torch.no_grad():
            return {
                kind: dict(zip(self.sources, torch.softmax(logits, 0).tolist()))
                for kind, logits in (("mean", self.mean_weight), ("var", self.var_weight))
            }

    def scalars(self, name: str) -> dict[str, float]:
        """The mixture weights per layer: `switch.<layer>.{mean,var}.{in,ln,bn}`."""
        return {f"switch.{name or 'root'}.{kind}.{source}": weight
                for kind, weights in self.mixture_weights().items() for source, weight in weights.items()}

    def _normalize(self, flat: torch.Tensor, first: int, steps: int) -> torch.Tensor:
        x = flat.reshape(flat.shape[0], steps, self.num_features, -1)  # (N, S, C, positions); vectors: 1 position
        if x.shape[-1] == 1:  # one position (a feature vector, or a 1x1 map): each instance has no variance
            mean_in = x.squeeze(-1)
            var_in = torch.zeros_like(mean_in) if "in" in self.sources else None
        else:  # two passes with plain means: torch.var_mean is ~20x slower on CPU for these shapes
            mean_in = x.mean(-1)
            var_in = (x - mean_in.unsqueeze(-1)).square().mean(-1)
        stats = {"in": (mean_in, var_in), "ln": _pooled(mean_in, var_in, dim=2)}
        stats["bn"] = self._batch_part(mean_in, var_in, x.shape[-1], first)
        mean_w, var_w = torch.softmax(self.mean_weight, 0), torch.softmax(self.var_weight, 0)
        mean = sum(mean_w[k] * stats[source][0] for k, source in enumerate(self.sources))
        var = sum(var_w[k] * stats[source][1] for k, source in enumerate(self.sources))
        # γ(x − μ)/σ + β as one full-size op, x·scale + shift, with per-(sample, step, channel) scale and shift.
        scale = torch.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        shift = -mean * scale if self.bias is None else torch.addcmul(self.bias, mean, scale, value=-1)
        return torch.addcmul(shift.unsqueeze(-1), x, scale.unsqueeze(-1)).view(flat.shape)

    def _batch_part(self, mean_in, var_in, positions: int, first: int):
        """BN's mean and variance, (1, S, C): of the batch in training (updating the running ones), else running."""
        if not self._uses_batch_statistics():
            running_mean, running_var = self.running_mean, self.running_var
            return running_mean[first : first + mean_in.shape[1]], running_var[first : first + mean_in.shape[1]]
        count = mean_in.shape[0] * positions
        if self.training and count < 2:
            raise ValueError(f"Expected more than 1 value per channel when training, got {count}")
        mean_bn, var_bn = _pooled(mean_in, var_in, dim=0)
        if self.training and self.running_mean is not None:
            with torch.no_grad():
                rows = slice(first, first + mean_in.shape[1])
                self.running_mean[rows].lerp_(mean_bn[0], self.momentum)
                self.running_var[rows].lerp_(var_bn[0] * (count / (count - 1)), self.momentum)  # unbiased, as BN
        return mean_bn, var_bn


def _pooled(mean: torch.Tensor, var: torch.Tensor | None, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and biased variance of equal-sized groups pooled along `dim`, from each group's mean and variance
    (None: groups of one value)."""
    pooled_mean = mean.mean(dim, keepdim=True)
    spread = (mean - pooled_mean).square()
    return pooled_mean, (spread if var is None else var + spread).mean(dim, keepdim=True)
