"""Gaussian inputs N(0, 1) with uniformly random labels: a pure memorisation task (test accuracy is chance).
The setup of the widely copied BN-vs-LN blog snippet (1000 x 128, 10 classes)."""

from normbench.data._registry import Splits, register_dataset
from normbench.errors import ConfigError


@register_dataset("synthetic")
def load(cfg):
    import torch  # torch: imported when data are loaded, not when a config is checked

    if cfg.num_train < 1 or cfg.num_test < 1 or cfg.num_classes < 2:
        raise ConfigError("data=synthetic needs num_train >= 1, num_test >= 1 and num_classes >= 2")
    generator = torch.Generator().manual_seed(cfg.seed)
    x = torch.randn(cfg.num_train + cfg.num_test, *cfg.shape, generator=generator)
    y = torch.randint(cfg.num_classes, (cfg.num_train + cfg.num_test,), generator=generator)
    return Splits(x[: cfg.num_train], y[: cfg.num_train], x[cfg.num_train :], y[cfg.num_train :])
