"""Adam (Kingma & Ba 2015); lr 1e-2 is the MNIST-1D paper's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List

from normbench.config.options import OptimConfig, within
from normbench.errors import ConfigError
from normbench.optim._registry import register_optimizer

if TYPE_CHECKING:
    import torch


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
    import torch  # torch: imported when the optimizer is built, not when a config is checked

    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
