"""SGD with (Nesterov) momentum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from normbench.config.options import OptimConfig
from normbench.errors import ConfigError
from normbench.optim._registry import register_optimizer

if TYPE_CHECKING:
    import torch


@dataclass
class SGDConfig(OptimConfig):
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False

    def check(self) -> None:
        super().check()
        if self.momentum is None or not 0 <= self.momentum < 1:  # at 1 or more each update grows without bound
            raise ConfigError(f"optim.momentum={self.momentum} must be in [0, 1) (0.9 is usual; 0 for none)")
        if self.nesterov and self.momentum == 0:
            raise ConfigError("optim.nesterov=true needs optim.momentum > 0")


@register_optimizer("sgd", config=SGDConfig)
def build(cfg: SGDConfig, params) -> torch.optim.Optimizer:
    import torch  # torch: imported when the optimizer is built, not when a config is checked

    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.nesterov)
