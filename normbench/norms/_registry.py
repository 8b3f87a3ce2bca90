"""One factory builds every norm by name for a tensor role (the timm `create_norm` pattern).

Roles are the shapes a norm can meet in normbench's models:
  features  (N, F)         an MLP's hidden layer
  map1d     (N, C, L)      a 1-D conv feature map
  map2d     (N, C, H, W)   a 2-D conv feature map
  step      (N, F) or (N, T, F) at time step(s) t..t+T-1 inside a recurrent cell; called as norm(x, t)
"""

from dataclasses import dataclass
from typing import Callable, FrozenSet

from torch import nn

from normbench.errors import ConfigError
from normbench.config.registry import Registry

ROLES = ("features", "map1d", "map2d", "step")
ROLE_MEANING = {
    "features": "a feature vector",
    "map1d": "a 1-D feature map",
    "map2d": "a 2-D feature map",
    "step": "a recurrent step",
}


@dataclass(frozen=True)
class NormSite:
    """Where a norm goes: its tensor role, its feature/channel count, and the model that asks (for messages)."""

    role: str
    num_features: int
    owner: str = ""


@dataclass(frozen=True)
class NormSpec:
    name: str
    build: Callable[..., nn.Module]  # build(cfg: NormConfig, site: NormSite) -> nn.Module
    roles: FrozenSet[str]
    # Statistics taken across the batch: training needs more than one sample per statistic.
    batch_dependent: bool


NORMS: Registry[NormSpec] = Registry("norm", "normbench.norms")


def register_norm(name: str, roles, batch_dependent: bool = False):
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"norm {name!r} declares unknown roles {sorted(unknown)}")

    def decorate(build):
        NORMS.add(name, NormSpec(name, build, frozenset(roles), batch_dependent))
        return build

    return decorate


def norms_for_role(role: str) -> list[str]:
    return [name for name, spec in sorted(NORMS.entries().items()) if role in spec.roles]


def create_norm(cfg, site: NormSite, name: str | None = None) -> nn.Module:
    """Build norm `name` (default `cfg.name`) for `site`, refusing pairs that have no meaning."""
    name = name or cfg.name
    spec = NORMS.get(name)
    if site.role not in spec.roles:
        owner = f" in {site.owner}" if site.owner else ""
        raise ConfigError(
            f"norm={name} has no meaning on {ROLE_MEANING[site.role]}{owner}; "
            f"allowed there: {', '.join(norms_for_role(site.role))}"
        )
    return spec.build(cfg, site)
