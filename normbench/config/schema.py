"""The top of the typed config: the settings every run has, and one slot per kind of option.

`model`, `norm`, `data` and `optim` each hold the selected option's own schema (e.g. `MLPConfig`,
`GroupNormConfig`): configs/config.yaml merges `schema/<group>/<choice>` (stored by the option's
registration, normbench/config/registry.py) under the option's YAML, so Hydra checks every key of the
option, and only its keys. Checks that need more than a type live in each schema's `check()` and in
normbench/config/validate.py.
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from normbench.config.options import added_field, execution_only
from normbench.errors import ConfigError
from normbench.launch.gpu_jobs import DEFAULT_MIB_PER_JOB


class Precision(Enum):
    """The dtype of the forward pass under autocast (normbench/engine/precision.py); norms always compute in fp32."""

    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"  # CUDA only: with a gradient scaler


class Switch(Enum):
    """auto | true | false: a speed setting normbench turns on where it is measured to pay (`auto`) or as told
    (trainer.compile, trainer.cuda_graphs).

    The config keys are strings, parsed here: Hydra reads `trainer.cuda_graphs=true` as a boolean, which
    OmegaConf refuses for an enum field; a string field keeps it (and configs saved with `compile: false`)."""

    auto = "auto"
    true = "true"
    false = "false"

    @classmethod
    def parse(cls, value, key: str) -> "Switch":
        text = str(value).lower()
        if text not in cls.__members__:
            raise ConfigError(f"{key}={value} is not allowed; choose one of: {', '.join(cls.__members__)}")
        return cls[text]


@dataclass
class TrainerConfig:
    max_steps: int = 6000
    epochs: Optional[int] = None  # if set, the budget is epochs × (train batches per epoch) instead of max_steps
    eval_interval: int = 250
    log_interval: int = 25
    eval_batch_size: int = 1000
    grad_clip: Optional[float] = None
    # A run whose train loss exceeds this (or is not finite) is stopped and recorded as diverged.
    divergence_loss: float = 1e4
    # Checkpoints only make a run resumable (the SLURM presets switch them on): not part of its identity.
    checkpoint_interval: int = execution_only(0)  # 0 = no checkpoints
    # Mixed precision changes the numbers a run computes: part of its identity (left out at fp32, so runs made
    # before the key existed keep theirs).
    precision: Precision = added_field(Precision.fp32)
    # auto | true | false (Switch): torch.compile of the model's training forward, the same computation in another
    # kernel order (float rounding). auto: models with a loop unrolled in Python (the normalized RNN) on a CPU,
    # where it pays (normbench/engine/compiling.py).
    compile: str = execution_only(Switch.false.value)
    # auto | true | false (Switch): the same step captured in a CUDA graph; float rounding aside, the same numbers.
    # auto: on CUDA where the run allows it; eager elsewhere, without a word. true where the run does not allow it:
    # eager, and one line saying why.
    cuda_graphs: str = execution_only(Switch.auto.value)


@dataclass
class ProbeConfig:
    """Loss-landscape probes along the gradient (Santurkar et al. 2018): every `every` steps (0 = off), at
    `points` step sizes log-spaced from min_scale to max_scale times the learning rate."""

    every: int = 0
    points: int = 8
    min_scale: float = 0.05
    max_scale: float = 4.0


@dataclass
class LauncherConfig:
    """How launcher=local shares a GPU host among a sweep's jobs (normbench/launch/gpu_jobs.py): how a sweep is
    carried out, never what a run computes (no part of a run's identity or name). Ignored by other launchers."""

    jobs_per_gpu: int = 0  # jobs training on each GPU at once; 0: as many as fit gpu_mib_per_job, one per core at most
    gpu_mib_per_job: int = DEFAULT_MIB_PER_JOB  # the GPU memory one job is expected to need (MiB)


@dataclass
class Config:
    model: Any = MISSING  # the selected model's schema, e.g. MLPConfig
    norm: Any = MISSING  # the selected norm's schema, e.g. BatchNormConfig
    data: Any = MISSING  # the selected data set's schema
    optim: Any = MISSING  # the selected optimizer's schema
    logger: Any = MISSING  # the selected experiment tracker's schema (none, wandb, mlflow): how a run is shown
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    experiment: str = "default"
    batch_size: int = 100
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps | cuda:N
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on GPU)
    num_threads: int = 0  # torch intra-op threads; 0 = all cores divided among parallel jobs
    results_dir: str = "results"
    progress: bool = True
    force: bool = False  # re-run even if a finished run of the same config exists
    extra: Any = None  # free slot for experiment-specific metadata (e.g. a study's budget in samples)
    # A directory of plugins: every *.py in it is imported (registering norms, models, data sets, optimizers)
    # and its configs/ joins Hydra's search path (fairseq's --user-dir).
    user_dir: Optional[str] = None
    # What the task returns to an optimizing sweeper (normbench/launch/objective.py): a summary metric, and
    # whether the sweeper maximizes or minimizes it. How a sweep searches, never what a run computes. Chosen on the
    # validation split: a sweep that searched on test accuracy would report a figure biased upward.
    objective: str = execution_only("final_val_acc")
    objective_direction: str = execution_only("maximize")


# The option groups, in the order a run is built: each has a registry and a `schema/<group>` config group.
OPTION_GROUPS = ("data", "model", "norm", "optim")
# Option groups of how a run is shown, registered and typed the same way: never part of a run's identity.
VIEW_GROUPS = ("logger",)


def register_configs() -> None:
    """The primary config extends `base_config`; the options' schemas are stored by their registrations."""
    ConfigStore.instance().store(name="base_config", node=Config)
