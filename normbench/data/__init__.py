"""Data sets, each registered by name in its own module (torch-free at import: their schemas are read when a
config is composed), and `load_data`, which loads the selected one; what happens to the splits next (validation
split, batches, streaming, augmentation) is in normbench/data/pipeline/."""

import math

from normbench.data._registry import DATASETS, Splits, as_splits, register_dataset
from normbench.errors import ConfigError


def load_data(data_cfg) -> Splits:
    """The data set's splits, checked against `data_cfg.shape`. A data set read from files may leave `shape`
    (empty) and `num_classes` (None) to its files: they are then filled in here, on `data_cfg` itself, from
    what the loader found, so the model's InputSpec (built from `data_cfg`) matches the data. The validation
    split is made here, for every data set alike (normbench/data/pipeline/validation.py)."""
    from normbench.data.pipeline.validation import with_validation  # torch: imported when data are loaded

    splits = DATASETS.get(data_cfg.name).build(data_cfg)
    if not data_cfg.shape:
        data_cfg.shape = list(splits.x_train.shape[1:])
    if data_cfg.num_classes is None:
        data_cfg.num_classes = splits.num_classes
    expected = tuple(data_cfg.shape)
    actual = tuple(splits.x_train.shape[1:])
    if actual != expected:
        raise ConfigError(
            f"data.shape={list(expected)} does not match data={data_cfg.name}'s samples of shape {list(actual)}"
        )
    if math.prod(expected) <= 0:
        raise ConfigError(f"data.shape={list(expected)} must have positive sizes")
    for split, labels in (("training", splits.y_train), ("test", splits.y_test), ("validation", splits.y_val)):
        if labels is None or not len(labels):
            continue
        if not (int(labels.min()) >= 0 and int(labels.max()) < data_cfg.num_classes):
            raise ConfigError(f"data={data_cfg.name}'s {split} labels span {int(labels.min())}..{int(labels.max())}, "
                              f"outside 0..{data_cfg.num_classes - 1} (data.num_classes={data_cfg.num_classes})")
    return with_validation(splits, data_cfg.val_fraction, data_cfg.name)


__all__ = ["DATASETS", "Splits", "as_splits", "load_data", "register_dataset"]
