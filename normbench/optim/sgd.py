"""SGD with (Nesterov) momentum."""

from dataclasses import dataclass

import torch

from normbench.config.options import OptimConfig, at_least
from normbench.errors import ConfigError
from normbench.optim._registry import register_optimizer


@dataclass
class SGDConfig(OptimConfig):
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False

    def check(self) -> None:
        super().check()
        at_least(self.momentum, 0, "optim.momentum")
        if self.nesterov and self.momentum == 0:
            raise ConfigError("optim.nesterov=true needs optim.momentum > 0")


@register_optimizer("sgd", config=SGDConfig)
def build(cfg: SGDConfig, params) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.nesterov)
