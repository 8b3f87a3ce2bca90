"""GroupNorm (Wu & He 2018): statistics of each sample across a group of channels (x positions)."""

from torch import nn

from normbench.errors import ConfigError
from normbench.norms._registry import register_norm
from normbench.norms._step import EachStep


def _check_groups(groups: int, channels: int, owner: str) -> None:
    if groups < 1 or channels % groups:
        divisors = [d for d in range(1, channels + 1) if channels % d == 0]
        where = f" of {owner}" if owner else ""
        raise ConfigError(
            f"norm.groups={groups} does not divide the {channels} channels{where}; "
            f"choose one of: {', '.join(map(str, divisors))}"
        )


@register_norm("group", roles=("features", "map1d", "map2d", "step"))
def build(cfg, site):
    _check_groups(cfg.groups, site.num_features, site.owner)
    norm = nn.GroupNorm(cfg.groups, site.num_features, eps=cfg.eps, affine=cfg.affine)
    return EachStep(norm) if site.role == "step" else norm
