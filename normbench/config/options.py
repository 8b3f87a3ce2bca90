"""The base schema of each kind of option (model, norm, data set, optimizer) and the field markers of a
run's identity.

Every option declares its own dataclass, derived from its kind's base here, and registers it with its
builder (`register_norm(name, config=...)`, ...). Hydra merges the option's YAML onto that dataclass, so
an option's config holds its own keys only, typed; a builder receives an instance of its own dataclass.

Identity markers (read by normbench/rundir/identity.py):
  execution_only(default)  a setting of how a run is carried out (where a cache lives, how often to
                           checkpoint), never part of the run's identity;
  added_field(default)     a field added after identity version 2: left out of the identity while it has
                           its default, so adding it does not change the hash of any run already on disk;
  added_field(default, legacy=value)
                           a field whose default is not what runs written before it did (`legacy`): left
                           out of the identity while it holds `legacy`, so old runs keep their hashes and a
                           run at the new default gets a new one (it computes something else). A recorded
                           config without the field is read with `legacy` (normbench/config/typed.py).
"""

import math
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, List, Optional

from omegaconf import MISSING

from normbench.errors import ConfigError

IDENTITY = "identity"  # dataclass field metadata key
EXECUTION_ONLY = "execution_only"
UNLESS_DEFAULT = "unless_default"
LEGACY = "legacy"  # field metadata key: the value runs written before an added field had


def execution_only(default: Any = NO_DEFAULT, *, default_factory: Any = NO_DEFAULT) -> Any:
    return field(default=default, default_factory=default_factory, metadata={IDENTITY: EXECUTION_ONLY})


def added_field(default: Any = NO_DEFAULT, *, default_factory: Any = NO_DEFAULT, legacy: Any = NO_DEFAULT) -> Any:
    metadata = {IDENTITY: UNLESS_DEFAULT}
    if legacy is not NO_DEFAULT:
        metadata[LEGACY] = legacy
    return field(default=default, default_factory=default_factory, metadata=metadata)


def legacy_value(spec) -> Any:
    """The value an `added_field` had in runs written before it existed: its `legacy` if it declares one, else its
    default (NO_DEFAULT for a field that is not an added field)."""
    if spec.metadata.get(IDENTITY) != UNLESS_DEFAULT:
        return NO_DEFAULT
    if LEGACY in spec.metadata:
        return spec.metadata[LEGACY]
    return spec.default_factory() if spec.default_factory is not NO_DEFAULT else spec.default


# --- checks shared by every schema ------------------------------------------------------------------------

def finite(value: float, key: str) -> None:
    if value is None or not math.isfinite(value):
        raise ConfigError(f"{key}={value} must be a finite number")


def positive(value, key: str) -> None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value <= 0:
        raise ConfigError(f"{key}={value} must be positive (and finite)")


def at_least(value, low, key: str) -> None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value < low:
        raise ConfigError(f"{key}={value} must be >= {low} (and finite)")


def within(value, low, high, key: str) -> None:
    if value is None or not (low <= value <= high):
        raise ConfigError(f"{key}={value} must be in [{low}, {high}]")


# --- the base of each kind ----------------------------------------------------------------------------------

@dataclass
class OptionConfig:
    """What every option has: the name it is registered under (and selected by, e.g. `norm=group`)."""

    name: str = MISSING

    def check(self) -> None:
        """Refuse values no type can rule out (ranges, NaN), each with a one-line ConfigError."""


@dataclass
class NormConfig(OptionConfig):
    """The keys every norm has; a norm without hyperparameters of its own uses this schema as it is."""

    eps: float = 1e-5
    affine: bool = True  # a learned per-channel gain (and shift, for norms that have one)

    def check(self) -> None:
        positive(self.eps, "norm.eps")


@dataclass
class ModelConfig(OptionConfig):
    def label(self) -> str:
        """How reports name this model (an RNN adds its cell: rnn-gru)."""
        return self.name

    def variant(self) -> Optional[str]:
        """The part of the label beyond the name (e.g. the RNN's cell), None if there is none."""
        return None

    def layer_norm_names(self) -> Optional[List[str]]:
        """One norm name per layer where the model lets each layer choose (None: `norm` everywhere)."""
        return None

    def norm_roles(self, shape: tuple) -> Optional[frozenset]:
        """The roles (normbench/norms/_registry.ROLES) of the model's norm sites for samples of `shape`, known
        without building the model, so an impossible model/norm pair is refused before torch is imported;
        None where only building tells (a network from elsewhere, a shape the model refuses). Building checks
        every site again, and tests/models/test_norm_roles.py holds each declaration to what its build asks."""
        return None


class Augment(Enum):
    """Training-batch augmentation (normbench/data/pipeline/augment.py)."""

    none = "none"
    standard = "standard"  # images: random crop with 4 px zero padding and a horizontal flip (the CIFAR recipe)


@dataclass
class DataConfig(OptionConfig):
    # Input shape of one sample: [C, L] for sequences, [C, H, W] for images, [F] for plain feature vectors.
    shape: List[int] = field(default_factory=list)
    num_classes: int = 10
    seed: int = 42  # the data's own seed, fixed across runs so seeds vary the model, not the data
    num_train: int = 4000
    num_test: int = 1000
    cache_dir: Optional[str] = execution_only(None)  # null = $NORMBENCH_CACHE or ~/.cache/normbench
    augment: Augment = added_field(Augment.none)
    # Data larger than this (bytes, train + test) stay in host memory and stream to the device in batches
    # (normbench/data/pipeline/feed.py); null = half the memory of a CUDA device, no limit on the CPU or MPS.
    max_device_bytes: Optional[int] = execution_only(None)
    loader_workers: int = execution_only(2)  # DataLoader worker processes while streaming
    # The share of the training data held out as the validation split, on which norms are chosen
    # (normbench/data/pipeline/validation.py): stratified by class, the same examples for every run of the data set.
    # 0 turns it off. Runs written before the key trained on all their training data: legacy 0.
    val_fraction: float = added_field(0.1, legacy=0.0)
    # Generated data (synthetic, mnist1d, digits) whose inputs (train + test, float32) would exceed this many bytes
    # are refused before they are made: making them would grow in memory for minutes first. null: no limit.
    max_generated_bytes: Optional[int] = execution_only(8 * 2**30)

    def check(self) -> None:
        if not self.shape or min(self.shape) < 1:
            raise ConfigError(f"data.shape={list(self.shape)} must be a non-empty list of positive sizes")
        at_least(self.num_classes, 2, "data.num_classes")
        positive(self.num_train, "data.num_train")
        positive(self.num_test, "data.num_test")
        self._check_generated_size()
        self.check_feeding()

    def _check_generated_size(self) -> None:
        if self.max_generated_bytes is None:
            return
        size = 4 * (self.num_train + self.num_test) * math.prod(self.shape)  # float32 inputs
        if size > self.max_generated_bytes:
            raise ConfigError(
                f"data.num_train={self.num_train} + data.num_test={self.num_test} samples of shape {list(self.shape)} "
                f"would be {size / 2**30:.1f} GiB of inputs, past the limit data.max_generated_bytes="
                f"{self.max_generated_bytes} ({self.max_generated_bytes / 2**30:g} GiB); use fewer samples, or "
                f"raise the limit (data.max_generated_bytes=BYTES, or null for none)")

    def check_feeding(self) -> None:
        """The keys every data set shares on how batches reach the device and what is held out for validation."""
        if self.max_device_bytes is not None:
            at_least(self.max_device_bytes, 0, "data.max_device_bytes")
        at_least(self.loader_workers, 0, "data.loader_workers")
        if self.val_fraction is None or not 0 <= self.val_fraction < 1:
            raise ConfigError(f"data.val_fraction={self.val_fraction} must be in [0, 1) (0: no validation split)")

    def fingerprint(self) -> Optional[str]:
        """A digest of the data's contents where they come from the user's files (normbench/rundir/identity.py
        adds it to the data section of a run's identity); None for data made from the config alone."""
        return None


class Schedule(Enum):
    """How the learning rate moves after the warm-up (normbench/optim/_schedule.py)."""

    constant = "constant"
    cosine = "cosine"  # half a cosine from lr down to 0 at the end of the budget
    linear = "linear"  # a straight line from lr down to 0 at the end of the budget


@dataclass
class LoggerConfig(OptionConfig):
    """An experiment tracker (logger=none|wandb|mlflow). It shows a run, never changes it: no logger key is
    part of a run's identity (the `logger` section is not an identity section, and each option marks its
    keys execution_only)."""


@dataclass
class OptimConfig(OptionConfig):
    lr: float = 1e-2
    weight_decay: float = 0.0
    # Learning-rate schedule, for every optimizer: a linear warm-up from 0 over `warmup_steps` steps, then
    # `schedule`. Added after identity version 2: runs at the defaults keep their hashes.
    warmup_steps: int = added_field(0)
    schedule: Schedule = added_field(Schedule.constant)

    def check(self) -> None:
        positive(self.lr, "optim.lr")
        at_least(self.weight_decay, 0, "optim.weight_decay")
        at_least(self.warmup_steps, 0, "optim.warmup_steps")
