"""Optimizers by name. An optimizer module registers `build(cfg, params) -> torch.optim.Optimizer`, `cfg` an
instance of its schema (an `OptimConfig` subclass: lr and weight_decay, plus its own keys). Imports no torch:
the optimizers' modules import this one when a config is composed (torch is named in annotations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from normbench.config.options import OptimConfig
from normbench.config.registry import Registry

if TYPE_CHECKING:
    import torch

OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optim", "normbench.optim", OptimConfig)


def register_optimizer(name: str, config: type[OptimConfig] | None = None):
    return OPTIMIZERS.register(name, config)


def build_optimizer(cfg: OptimConfig, params) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(cfg.name).build(cfg, params)
