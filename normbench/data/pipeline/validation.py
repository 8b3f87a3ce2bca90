"""The validation split every run is chosen on: held out once, here, after any data set loads.

`data.val_fraction` of the training examples, stratified by class (each class gives its share, within one
example), drawn with `VAL_SEED`: a constant, not the run's seed nor the data's, so every run of a data set —
every norm, every seed, every learning rate — is judged on the same examples. A data set that ships its own
validation split (an image folder with `val/` beside `test/`) keeps it. `data.val_fraction=0` holds nothing out,
as runs written before the split existed did. The run's summary records what was done (VAL_RECORD_KEYS).
"""

import dataclasses

import torch

from normbench.data._registry import Splits
from normbench.errors import ConfigError
from normbench.rundir.contract import VAL_CARVED, VAL_NONE, VAL_SHIPPED

# The validation split's own seed, the same for every run of every data set (recorded in each summary as val_seed).
VAL_SEED = 20190523


def with_validation(splits: Splits, fraction: float, data: str) -> Splits:
    """`splits` with its validation split: the one the data set shipped, one carved from its training examples,
    or none (`fraction` 0)."""
    if fraction == 0:
        return dataclasses.replace(splits, x_val=None, y_val=None, val_source=VAL_NONE)
    if splits.x_val is not None:
        return dataclasses.replace(splits, val_source=VAL_SHIPPED)
    train, val = carve_indices(splits.y_train, fraction, data)
    return dataclasses.replace(splits, x_train=splits.x_train[train], y_train=splits.y_train[train],
                               x_val=splits.x_train[val], y_val=splits.y_train[val], val_source=VAL_CARVED)


def carve_indices(labels: torch.Tensor, fraction: float, data: str = "data",
                  seed: int = VAL_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, validation indices) into `labels`, each sorted: round(fraction * N) examples held out
    (fewer only where the classes cannot spare them), each class giving floor(fraction * its count) and the
    remainder going to the classes with the largest fractional parts that keep a training example (so each class's
    share is within one example of exact, and no class loses all its training examples: floor(fraction * count) <
    count for a fraction below 1), drawn with `seed`."""
    classes, counts = torch.unique(labels, return_counts=True)
    target = round(fraction * len(labels))
    if target < 1:
        raise ConfigError(f"data={data}: data.val_fraction={fraction} of {len(labels)} training examples holds out "
                          f"none; use a larger fraction or more data (data.num_train), or 0 for no validation split")
    exact = counts.double() * fraction
    take = exact.floor().long()
    by_remainder = torch.argsort(exact - take, descending=True, stable=True)
    spare = by_remainder[counts[by_remainder] - take[by_remainder] > 1]  # one more still leaves a training example
    take[spare[: target - int(take.sum())]] += 1
    generator = torch.Generator().manual_seed(seed)
    held = [torch.nonzero(labels == label).flatten()[torch.randperm(int(count), generator=generator)[:int(n)]]
            for label, count, n in zip(classes, counts, take)]
    val = torch.cat(held).sort().values
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[val] = False
    return torch.nonzero(keep).flatten(), val
