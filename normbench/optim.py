"""Optimizers by name."""

import torch

from normbench.errors import ConfigError


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov)
    raise ConfigError(f"optim.name={cfg.name} is not an optimizer; choose one of: adam, sgd")
