"""BatchNorm (Ioffe & Szegedy 2015): each feature/channel across the batch (and positions of conv maps).

Training normalizes with the batch's mean and biased variance; evaluation with running (EMA) statistics,
which PyTorch updates with the *unbiased* batch variance. Inside a recurrent cell each time step keeps its
own statistics (Cooijmans et al. 2016, "Recurrent Batch Normalization"), with the gain initialised to 0.1.

This module holds the BN family's schema (`BatchNormConfig`, shared by batch renorm, ghost BN and switchable
norm), the family's constructor arguments and the `batch` builder; the layers, `BatchFamilyNorm` (the base of
every normbench norm whose statistics run across the batch) and `StepwiseBatchNorm`, are in
layers/batch_family.py.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Optional

from normbench.config.options import NormConfig, finite, positive, within
from normbench.norms._registry import register_norm


class EvalStats(Enum):
    """What a BN-family layer normalizes with at evaluation (normbench/norms/layers/eval_stats.py)."""

    running = "running"  # the EMA statistics gathered in training (PyTorch's default)
    batch = "batch"  # the statistics of the evaluation batch itself
    precise = "precise"  # population statistics recomputed over `precise_batches` training batches (Wu & Johnson 2021)


@dataclass
class BatchNormConfig(NormConfig):
    """The BN family's keys: running statistics, per-step statistics in a recurrence, evaluation statistics."""

    momentum: float = 0.1  # running-statistics update rate
    track_running_stats: bool = True
    # RNN: separate statistics for the first `max_time_steps` steps, the last reused beyond it.
    max_time_steps: int = 64
    # Initial gain; null = the paper's choice for the role (0.1 for BN inside a recurrence, else 1).
    gamma_init: Optional[float] = None
    eval_stats: EvalStats = EvalStats.running
    precise_batches: int = 50

    def check(self) -> None:
        super().check()
        within(self.momentum, 0.0, 1.0, "norm.momentum")
        positive(self.max_time_steps, "norm.max_time_steps")
        positive(self.precise_batches, "norm.precise_batches")
        if self.gamma_init is not None:
            finite(self.gamma_init, "norm.gamma_init")


RECURRENT_GAMMA = 0.1  # Cooijmans et al.: larger gains saturate the gates and slow learning


def initial_gamma(cfg, role: str) -> float:
    """A BN-family norm's initial gain: norm.gamma_init if set, else 0.1 inside a recurrence (Cooijmans
    et al.) and 1 elsewhere."""
    if cfg.gamma_init is not None:
        return cfg.gamma_init
    return RECURRENT_GAMMA if role == "step" else 1.0


def family_options(cfg, site, gamma: float | None = None) -> dict:
    """Constructor arguments of a BN-family norm for `site`: per-step statistics only in the step role."""
    stepwise = site.role == "step"
    return dict(
        slots=cfg.max_time_steps if stepwise else 1, eps=cfg.eps, momentum=cfg.momentum, affine=cfg.affine,
        track_running_stats=cfg.track_running_stats, stepwise=stepwise,
        gamma=initial_gamma(cfg, site.role) if gamma is None else gamma,
    )


@register_norm("batch", roles=("features", "map1d", "map2d", "step", "tokens"), batch_dependent=True,
               config=BatchNormConfig)
def build(cfg: BatchNormConfig, site):
    # torch: imported when a model is built, not when a config is checked
    from torch import nn

    from normbench.norms.layers.batch_family import StepwiseBatchNorm
    from normbench.norms.layers.tokens import TokenRows

    common = dict(eps=cfg.eps, momentum=cfg.momentum, affine=cfg.affine, track_running_stats=cfg.track_running_stats)
    if site.role == "step":
        return StepwiseBatchNorm(site.num_features, cfg.max_time_steps, gamma=initial_gamma(cfg, site.role), **common)
    cls = nn.BatchNorm2d if site.role == "map2d" else nn.BatchNorm1d
    norm = cls(site.num_features, **common)
    if cfg.gamma_init is not None and norm.weight is not None:
        nn.init.constant_(norm.weight, cfg.gamma_init)
    return TokenRows(norm) if site.role == "tokens" else norm  # tokens: statistics over batch × tokens
