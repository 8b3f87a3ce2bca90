"""Structured configs: the schema Hydra validates every composed config against.

`Config` is stored in Hydra's ConfigStore and extended by configs/config.yaml; each group's YAML is merged
into its typed field, so a misspelled key or a wrong type is refused by Hydra before anything runs.
Checks that need more than a type (positive sizes, norm/model pairs, devices) live in `validate.py`.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class ModelConfig:
    name: str = MISSING  # mlp | cnn | rnn
    # mlp: widths of the hidden layers; a residual connection joins consecutive layers of equal width.
    hidden: List[int] = field(default_factory=lambda: [100, 100])
    residual: bool = True
    # mlp: one norm name per hidden layer (e.g. [batch, layer]); null = `norm` for every layer.
    layer_norms: Optional[List[str]] = None
    # cnn: one entry per conv layer; 1-D or 2-D convs follow the data's shape.
    channels: List[int] = field(default_factory=lambda: [25, 25, 25])
    kernel_sizes: List[int] = field(default_factory=lambda: [5, 3, 3])
    strides: List[int] = field(default_factory=lambda: [2, 2, 2])
    padding: int = 1
    # rnn
    cell: str = "gru"  # lstm | gru
    hidden_size: int = 6
    bidirectional: bool = True
    head: str = "all_steps"  # all_steps: classify from every step's output (MNIST-1D paper); last: last step only
    # rnn: normalize the input-to-hidden pre-activations too (Ba et al.; Cooijmans et al.). auto = yes, unless
    # a step has a single input feature: then W_x x_t is x_t times one vector, and a per-sample norm of it
    # keeps only the sign of x_t (LN(x_t w) = sign(x_t) LN(w)), erasing the input.
    input_norm: str = "auto"  # auto | true | false


@dataclass
class NormConfig:
    name: str = MISSING  # a registered norm: none | batch | layer | group | instance | rms | ...
    eps: float = 1e-5
    affine: bool = True
    momentum: float = 0.1  # running-statistics update rate of the BN family
    track_running_stats: bool = True
    groups: int = 5  # GroupNorm's group count
    # RNN, BN family: separate statistics for the first `max_time_steps` steps, the last reused beyond it.
    max_time_steps: int = 64
    # Initial gain; null = the paper's choice for the role (0.1 for BN inside a recurrence, else 1).
    gamma_init: Optional[float] = None
    # BN family at evaluation: running (EMA statistics) | batch (statistics of the evaluation batch)
    # | precise (population statistics recomputed over `precise_batches` training batches, Wu & Johnson 2021)
    eval_stats: str = "running"
    precise_batches: int = 50
    # Batch Renormalization (Ioffe 2017): r clipped to [1/rmax, rmax], d to [-dmax, dmax] once relaxed.
    rmax: float = 3.0
    dmax: float = 5.0
    # The schedule (the paper's 5k/40k/25k): plain BN (rmax=1, dmax=0) up to renorm_warmup_steps, then
    # linear relaxation reaching rmax at renorm_rmax_steps and dmax at renorm_dmax_steps.
    renorm_warmup_steps: int = 5000
    renorm_rmax_steps: int = 40000
    renorm_dmax_steps: int = 25000
    # scaled: the three step counts are multiplied by trainer max_steps / renorm_reference_steps;
    # absolute: they are training steps as given.
    renorm_schedule: str = "scaled"
    renorm_reference_steps: int = 40000
    # Ghost BN (Hoffer et al. 2017): size of the virtual batches the real batch is cut into in training
    virtual_batch_size: int = 32


@dataclass
class DataConfig:
    name: str = MISSING  # mnist1d | digits | synthetic
    # Input shape of one sample: [C, L] for sequences, [C, H, W] for images, [F] for plain feature vectors.
    shape: List[int] = field(default_factory=list)
    num_classes: int = 10
    seed: int = 42  # the data's own seed, fixed across runs so seeds vary the model, not the data
    num_train: int = 4000
    num_test: int = 1000
    cache_dir: Optional[str] = None  # null = $NORMBENCH_CACHE or ~/.cache/normbench


@dataclass
class OptimConfig:
    name: str = MISSING  # adam | sgd
    lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 0.0
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    nesterov: bool = False


@dataclass
class TrainerConfig:
    max_steps: int = 6000
    epochs: Optional[int] = None  # if set, overrides max_steps with epochs × (train batches per epoch)
    eval_interval: int = 250
    log_interval: int = 25
    eval_batch_size: int = 1000
    grad_clip: Optional[float] = None
    # A run whose train loss exceeds this (or is not finite) is stopped and recorded as diverged.
    divergence_loss: float = 1e4
    checkpoint_interval: int = 0  # 0 = no checkpoints


@dataclass
class ProbeConfig:
    """Loss-landscape probes along the gradient (Santurkar et al. 2018): every `every` steps (0 = off), at
    `points` step sizes log-spaced from min_scale to max_scale times the learning rate."""

    every: int = 0
    points: int = 8
    min_scale: float = 0.05
    max_scale: float = 4.0


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    norm: NormConfig = field(default_factory=NormConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    experiment: str = "default"
    batch_size: int = 100
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps | cuda:N
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on GPU)
    num_threads: int = 0  # torch intra-op threads; 0 = all cores divided among parallel jobs
    results_dir: str = "results"
    progress: bool = True
    force: bool = False  # re-run even if a finished run of the same config exists
    extra: Any = None  # free slot for experiment-specific metadata, recorded in the summary


# Settings that change how a run is carried out or shown, not what it computes: left out of its identity.
NON_IDENTITY_KEYS = ("progress", "results_dir", "force", "device", "num_threads")


def register_configs() -> None:
    """The primary config extends `base_config`, so every group merged into it is checked against its schema."""
    ConfigStore.instance().store(name="base_config", node=Config)
