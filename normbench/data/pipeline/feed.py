"""How a run's data reach its device: moved there whole, or kept in host memory and streamed a batch at a
time (normbench/data/pipeline/stream.py), with `data.augment` on top (normbench/data/pipeline/augment.py)."""

import logging
from dataclasses import dataclass

import torch

from normbench.config.options import DataConfig
from normbench.data._registry import Splits
from normbench.data.pipeline.augment import augmented
from normbench.data.pipeline.batches import Batches, EpochBatches
from normbench.data.pipeline.stream import StreamedBatches, data_bytes, device_budget, must_stream

log = logging.getLogger("normbench")


@dataclass
class Feed:
    data: Splits  # on the device, or in host memory when streamed (the trainer moves test batches itself)
    batches: Batches
    streamed: bool


def feed(splits: Splits, cfg: DataConfig, batch_size: int, seed: int, device: torch.device) -> Feed:
    """The training batches in the run's seeded order (its own generator, seeded with `seed`)."""
    generator = torch.Generator().manual_seed(seed)
    streamed = must_stream(splits, cfg.max_device_bytes, device)
    if streamed:
        log.info("data of %.3g GB exceed the device budget of %.3g GB (data.max_device_bytes): streaming batches "
                 "from host memory with %d loader workers", data_bytes(splits) / 1e9,
                 device_budget(cfg.max_device_bytes, device) / 1e9, cfg.loader_workers)
        batches = StreamedBatches(splits.x_train, splits.y_train, batch_size, generator, device, cfg.loader_workers)
    else:
        splits = splits.to(device)
        batches = EpochBatches(splits.x_train, splits.y_train, batch_size, generator)
    return Feed(splits, augmented(batches, cfg.augment, tuple(splits.x_train.shape[1:]), seed), streamed)
