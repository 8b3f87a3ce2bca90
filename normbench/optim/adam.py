"""Adam (Kingma & Ba 2015); lr 1e-2 is the MNIST-1D paper's."""

from dataclasses import dataclass, field
from typing import List

import torch

from normbench.config.options import OptimConfig, within
from normbench.errors import ConfigError
from normbench.optim._registry import register_optimizer


@dataclass
class AdamConfig(OptimConfig):
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])

    def check(self) -> None:
        super().check()
        if len(self.betas) != 2:
            raise ConfigError(f"optim.betas={list(self.betas)} must be two numbers, e.g. [0.9,0.999]")
        for beta in self.betas:
            within(beta, 0.0, 0.999999, "optim.betas[i]")


@register_optimizer("adam", config=AdamConfig)
def build(cfg: AdamConfig, params) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
