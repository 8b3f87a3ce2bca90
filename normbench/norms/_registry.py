"""Every norm by name, built for a tensor role (timm's `create_norm`; torchvision's `norm_layer`).

Roles are the shapes a norm can meet in normbench's models:
  features  (N, F)         an MLP's hidden layer
  map1d     (N, C, L)      a 1-D conv feature map
  map2d     (N, C, H, W)   a 2-D conv feature map
  step      (N, F) or (N, T, F) at time step(s) t..t+T-1 inside a recurrent cell; called as norm(x, t)
  tokens    (N, T, D)      a Transformer's token tensor: per-token norms act over D, BN over batch × tokens

A norm module registers `build(cfg, site) -> nn.Module` with `register_norm(name, roles=..., config=...)`,
where `cfg` is an instance of its own schema (a `NormConfig` subclass; the plain `NormConfig` for a norm with
no hyperparameters of its own) and `site` says where it goes. Models never see a norm's config: they get a
`NormFactory`, `make_norm(role, num_features) -> nn.Module`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Callable, FrozenSet

from normbench.config.options import NormConfig
from normbench.config.registry import Registry
from normbench.errors import ConfigError

if TYPE_CHECKING:  # torch only for annotations: composing and checking a config never imports it
    from torch import nn

ROLES = ("features", "map1d", "map2d", "step", "tokens")
ROLE_MEANING = {
    "features": "a feature vector",
    "map1d": "a 1-D feature map",
    "map2d": "a 2-D feature map",
    "step": "a recurrent step",
    "tokens": "a Transformer's tokens",
}


@dataclass(frozen=True)
class NormSite:
    """Where a norm goes: its tensor role, its feature/channel count, and the model that asks (for messages)."""

    role: str
    num_features: int
    owner: str = ""


@dataclass(frozen=True)
class NormTraits:
    roles: FrozenSet[str]
    # Statistics taken across the batch: training needs more than one sample per statistic.
    batch_dependent: bool
    # With affine=true the output gets a learned shift (a bias): a model may then drop its own bias before it.
    shifts: bool


NORMS: Registry[Callable[..., nn.Module]] = Registry("norm", "normbench.norms", NormConfig)


def register_norm(name: str, roles, batch_dependent: bool = False, shifts: bool = True,
                  config: type[NormConfig] | None = None):
    """Decorator for `build(cfg, site) -> nn.Module`: norm `name`, meaningful on `roles` (see ROLES)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"norm {name!r} declares unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
    return NORMS.register(name, config, traits=NormTraits(frozenset(roles), batch_dependent, shifts))


def traits(name: str) -> NormTraits:
    return NORMS.get(name).traits


def norms_for_role(role: str) -> list[str]:
    return [name for name in NORMS.names() if role in traits(name).roles]


def norm_config(name: str, **values) -> NormConfig:
    """Norm `name`'s schema with `values` set (the rest its defaults): a TypeError names an unknown key."""
    return NORMS.get(name).config(name=name, **values)


def role_problem(name: str, role: str, owner: str = "") -> str | None:
    """Why norm `name` cannot go on a site of `role` (in `owner`, e.g. "model=mlp"); None if it can."""
    if role in traits(name).roles:
        return None
    where = f" in {owner}" if owner else ""
    allowed = ", ".join(norms_for_role(role))
    return f"norm={name} has no meaning on {ROLE_MEANING[role]}{where}; allowed there: {allowed}"


def create_norm(cfg: NormConfig, site: NormSite) -> nn.Module:
    """Build norm `cfg.name` for `site`, refusing pairs that have no meaning."""
    problem = role_problem(cfg.name, site.role, site.owner)
    if problem:
        raise ConfigError(problem)
    return NORMS.get(cfg.name).build(cfg, site)


class NormFactory:
    """`make_norm(role, num_features) -> nn.Module`: the selected norm, for any site of a model.

    A model that lets each layer choose its norm (the MLP's `layer_norms`) passes `name=`: that norm is built
    with its own defaults and the shared settings (eps, affine) of the selected one.
    """

    def __init__(self, cfg: NormConfig, owner: str = "", made: list[nn.Module] | None = None,
                 sites: list[NormSite] | None = None):
        self.cfg, self.owner = cfg, owner
        # Every norm built so far: mixed precision keeps them in fp32, and a model holding any other norm layer
        # is refused (norms/layers/provenance.py).
        self.made: list[nn.Module] = [] if made is None else made
        # Where the selected norm went (not the sites a model gives a norm by name): advise's group count.
        self.sites: list[NormSite] = [] if sites is None else sites

    def with_config(self, cfg: NormConfig) -> NormFactory:
        """The same norm with other settings (a model's own group count), recording into the same lists."""
        return NormFactory(cfg, self.owner, made=self.made, sites=self.sites)

    @property
    def name(self) -> str:
        return self.cfg.name

    def __call__(self, role: str, num_features: int, *, name: str | None = None) -> nn.Module:
        site = NormSite(role, num_features, self.owner)
        norm = create_norm(self._config(name), site)
        self.made.append(norm)
        if name is None:
            self.sites.append(site)
        return norm

    def shifts(self, name: str | None = None) -> bool:
        """Whether the norm adds a learned shift after normalizing (so a bias right before it is redundant)."""
        cfg = self._config(name)
        return cfg.affine and traits(cfg.name).shifts

    def _config(self, name: str | None) -> NormConfig:
        if name is None or name == self.cfg.name:
            return self.cfg
        shared = {f.name: getattr(self.cfg, f.name) for f in fields(NormConfig) if f.name != "name"}
        return norm_config(name, **shared)
