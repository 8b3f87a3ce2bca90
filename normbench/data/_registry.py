"""Data sets by name. A data set module registers `load(cfg) -> Splits` (CPU tensors), `cfg` an instance of
its schema (a `DataConfig` subclass; the plain `DataConfig` for a data set with no keys of its own).

Imports no torch: the data sets' modules import this one when a config is composed; `Splits` names torch's types
in annotations only, and `as_splits` imports torch when it makes tensors."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from normbench.config.options import DataConfig
from normbench.config.registry import Registry
from normbench.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass
class Splits:
    """A dataset held in memory as tensors: x of shape (N, *sample_shape), y of class indices."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    # Set by data sets read from files, which learn them from the files (None: the config's values hold):
    num_classes: int | None = None
    # How the inputs were standardized, from the training set: {"axis": "channel" | "feature",
    # "mean": [...], "std": [...]} (one value per channel or feature), so a summary can record it.
    standardization: dict | None = None
    classes: list[str] | None = None  # class names by index, where the files name them (folders, CSV labels)
    # The validation split: a loader sets it only where the data ship one; normbench/data/pipeline/validation.py
    # carves it from the training examples otherwise (or drops it: data.val_fraction=0), and says which (val_source).
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    val_source: str | None = None  # contract.VAL_SOURCES, once load_data has decided

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every split's inputs and labels by field name (the validation split's where there is one)."""
        names = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")
        return {key: getattr(self, key) for key in names if getattr(self, key) is not None}

    def to(self, device: torch.device) -> Splits:
        return dataclasses.replace(self, **{key: tensor.to(device) for key, tensor in self.tensors().items()})


DATASETS: Registry = Registry("data", "normbench.data", DataConfig)


def register_dataset(name: str, config: type[DataConfig] | None = None):
    """Decorator for `load(cfg) -> Splits`, registered as data set `name` with schema `config`."""
    return DATASETS.register(name, config)


def as_splits(x_train, y_train, x_test, y_test, shape) -> Splits:
    """numpy arrays -> float32 inputs reshaped to the declared sample shape, int64 labels."""
    import torch  # torch: imported when data are loaded, not when a config is checked

    values = x_train[0].size
    if values != math.prod(shape):
        raise ConfigError(f"data.shape={list(shape)} does not match this data's samples of {values} values")
    as_x = lambda a: torch.as_tensor(a, dtype=torch.float32).reshape(len(a), *shape)  # noqa: E731
    as_y = lambda a: torch.as_tensor(a, dtype=torch.int64)  # noqa: E731
    return Splits(as_x(x_train), as_y(y_train), as_x(x_test), as_y(y_test))
