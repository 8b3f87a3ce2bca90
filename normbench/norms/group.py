"""GroupNorm (Wu & He 2018): statistics of each sample across a group of channels (x positions)."""

from dataclasses import dataclass

from normbench.config.options import NormConfig, positive
from normbench.errors import ConfigError
from normbench.norms._registry import register_norm


def _check_groups(groups: int, channels: int, owner: str) -> None:
    if groups < 1 or channels % groups:
        divisors = [d for d in range(1, channels + 1) if channels % d == 0]
        where = f" of {owner}" if owner else ""
        raise ConfigError(
            f"norm.groups={groups} does not divide the {channels} channels{where}; "
            f"choose one of: {', '.join(map(str, divisors))}"
        )


@dataclass
class GroupNormConfig(NormConfig):
    # Must divide the channel count (25 for the default CNN: 1, 5 or 25). 1 is LN over (C, positions); C is IN.
    groups: int = 5

    def check(self) -> None:
        super().check()
        positive(self.groups, "norm.groups")


@register_norm("group", roles=("features", "map1d", "map2d", "step", "tokens"), config=GroupNormConfig)
def build(cfg: GroupNormConfig, site):
    _check_groups(cfg.groups, site.num_features, site.owner)
    # torch: imported when a model is built, not when a config is checked
    from torch import nn

    from normbench.norms.layers.step import EachStep
    from normbench.norms.layers.tokens import TokenRows

    norm = nn.GroupNorm(cfg.groups, site.num_features, eps=cfg.eps, affine=cfg.affine)
    if site.role == "tokens":  # each token's D features in groups
        return TokenRows(norm)
    return EachStep(norm) if site.role == "step" else norm
