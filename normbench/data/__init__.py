"""Datasets, each registered by name in its own module, and the index batcher that feeds the trainer."""

import math

from normbench.data._registry import DATASETS, Splits, as_splits, register_dataset
from normbench.errors import ConfigError


def load_data(data_cfg) -> Splits:
    splits = DATASETS.get(data_cfg.name).build(data_cfg)
    expected = tuple(data_cfg.shape)
    actual = tuple(splits.x_train.shape[1:])
    if actual != expected:
        raise ConfigError(
            f"data.shape={list(expected)} does not match data={data_cfg.name}'s samples of shape {list(actual)}"
        )
    if math.prod(expected) <= 0:
        raise ConfigError(f"data.shape={list(expected)} must have positive sizes")
    return splits


__all__ = ["DATASETS", "Splits", "as_splits", "load_data", "register_dataset"]
