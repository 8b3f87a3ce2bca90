"""Batch Renormalization (Ioffe 2017, "Towards Reducing Minibatch Dependence in Batch-Normalized Models").

Training, per feature/channel (Algorithm 1 of the paper):
    μ_B, σ_B = sqrt(σ²_B + ε)                      batch mean and biased standard deviation
    r = stop_gradient(clip(σ_B / σ, 1/rmax, rmax))  σ = sqrt(running_var + ε)
    d = stop_gradient(clip((μ_B − μ) / σ, −dmax, dmax))
    y = γ · ((x − μ_B) / σ_B · r + d) + β
    μ ← μ + α(μ_B − μ),  σ ← σ + α(σ_B − σ)        the paper's moving averages: of the standard deviation
Evaluation: y = γ (x − μ) / σ + β, the running statistics, as in BN.

The moving average is the paper's, of σ (stored as running_var = σ² − ε so that evaluation, precise BN and
`evaluation_statistics` treat it like any BN buffer); plain BN in PyTorch averages the unbiased variance instead.
α is norm.momentum; configs/norm/batch_renorm.yaml sets 0.01, the rate commonly used with the paper's "relatively
fast" update (normbench's BN uses 0.1).

Schedule: rmax = 1, dmax = 0 (plain BN) for the first `renorm_warmup_steps`, then both relaxed linearly to
reach `rmax` at `renorm_rmax_steps` and `dmax` at `renorm_dmax_steps` (paper: 5k, 40k, 25k). With
renorm_schedule=scaled (default) each of those step counts is multiplied by max_steps / renorm_reference_steps
(rounded to the nearest step), so the paper's numbers with a 40k reference become fractions of the run:
warm-up to 1/8, dmax at 5/8, rmax at the last step. renorm_schedule=absolute takes them as given.
The trainer reports the step through `on_train_step` before every training forward; until it does, the
layer is at step 0 of the schedule (plain BN in training).

This module holds the schema, the schedule and the builder; the layer is in layers/batch_renorm.py.
"""

from dataclasses import dataclass
from enum import Enum

from normbench.config.options import at_least, positive
from normbench.errors import ConfigError
from normbench.norms._registry import register_norm
from normbench.norms.batch import BatchNormConfig, family_options


class RenormScheduleMode(Enum):
    scaled = "scaled"  # the step counts are multiplied by trainer max_steps / renorm_reference_steps
    absolute = "absolute"  # they are training steps as given


@dataclass
class BatchRenormConfig(BatchNormConfig):
    # r clipped to [1/rmax, rmax], d to [-dmax, dmax] once relaxed.
    rmax: float = 3.0
    dmax: float = 5.0
    # The schedule (the paper's 5k/40k/25k): plain BN (rmax=1, dmax=0) up to renorm_warmup_steps, then
    # linear relaxation reaching rmax at renorm_rmax_steps and dmax at renorm_dmax_steps.
    renorm_warmup_steps: int = 5000
    renorm_rmax_steps: int = 40000
    renorm_dmax_steps: int = 25000
    renorm_schedule: RenormScheduleMode = RenormScheduleMode.scaled
    renorm_reference_steps: int = 40000

    def check(self) -> None:
        super().check()
        at_least(self.rmax, 1.0, "norm.rmax")
        at_least(self.dmax, 0.0, "norm.dmax")
        for key in ("renorm_warmup_steps", "renorm_rmax_steps", "renorm_dmax_steps"):
            at_least(getattr(self, key), 0, f"norm.{key}")
        positive(self.renorm_reference_steps, "norm.renorm_reference_steps")


@dataclass(frozen=True)
class RenormSchedule:
    rmax: float
    dmax: float
    warmup_steps: int
    rmax_steps: int
    dmax_steps: int
    mode: RenormScheduleMode = RenormScheduleMode.scaled
    reference_steps: int = 40000  # the run length the step counts refer to when scaled

    def points(self, max_steps: int) -> tuple[int, int, int]:
        """(end of warm-up, step where rmax is reached, step where dmax is reached) for a run of max_steps."""
        counts = (self.warmup_steps, self.rmax_steps, self.dmax_steps)
        if RenormScheduleMode(self.mode) is RenormScheduleMode.absolute:
            return counts
        return tuple(round(count * max_steps / self.reference_steps) for count in counts)

    def limits(self, step: int, max_steps: int) -> tuple[float, float]:
        """(rmax, dmax) in force at training step `step` (1-based, as the trainer counts)."""
        warmup, rmax_end, dmax_end = self.points(max_steps)
        rmax = 1.0 + (self.rmax - 1.0) * _ramp(step, warmup, rmax_end)
        return rmax, self.dmax * _ramp(step, warmup, dmax_end)


def _ramp(step: int, start: int, end: int) -> float:
    """0 up to `start`, 1 from `end` on, linear in between."""
    if step <= start:
        return 0.0
    if step >= end:
        return 1.0
    return (step - start) / (end - start)


def schedule_from(cfg: BatchRenormConfig) -> RenormSchedule:
    try:
        mode = RenormScheduleMode(cfg.renorm_schedule)  # a member already, unless built by hand from a string
    except ValueError:
        modes = ", ".join(mode.value for mode in RenormScheduleMode)
        raise ConfigError(
            f"norm.renorm_schedule={cfg.renorm_schedule} is not allowed; choose one of: {modes}") from None
    reference = cfg.renorm_reference_steps
    if cfg.rmax < 1 or cfg.dmax < 0:
        raise ConfigError(f"norm.rmax={cfg.rmax} must be >= 1 and norm.dmax={cfg.dmax} >= 0")
    steps = (cfg.renorm_warmup_steps, cfg.renorm_rmax_steps, cfg.renorm_dmax_steps)
    if min(steps) < 0 or reference <= 0:
        raise ConfigError("norm.renorm_*_steps must be >= 0 and norm.renorm_reference_steps positive")
    return RenormSchedule(cfg.rmax, cfg.dmax, *steps, mode=mode, reference_steps=reference)


@register_norm("batch_renorm", roles=("features", "map1d", "map2d", "step"), batch_dependent=True,
               config=BatchRenormConfig)
def build(cfg: BatchRenormConfig, site):
    # torch: imported when a model is built, not when a config is checked
    from normbench.norms.layers.batch_renorm import BatchRenorm

    return BatchRenorm(site.num_features, schedule_from(cfg), **family_options(cfg, site))
