"""Optimizers by name. An optimizer module registers `build(cfg, params) -> torch.optim.Optimizer`, `cfg` an
instance of its schema (an `OptimConfig` subclass: lr and weight_decay, plus its own keys)."""

from typing import Callable

import torch

from normbench.config.options import OptimConfig
from normbench.config.registry import Registry

OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optim", "normbench.optim", OptimConfig)


def register_optimizer(name: str, config: type[OptimConfig] | None = None):
    return OPTIMIZERS.register(name, config)


def build_optimizer(cfg: OptimConfig, params) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(cfg.name).build(cfg, params)
