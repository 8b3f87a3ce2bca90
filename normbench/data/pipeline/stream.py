"""Data that do not fit the device: training batches stream from host memory through a DataLoader.

`data.max_device_bytes` is the budget for the data on the device (train, validation and test); null
means half of a CUDA device's memory (the rest for the model, its activations and the optimizer) and no
limit on the CPU or MPS, where the data already are in the memory the model computes in. Data above the
budget stay in host memory: training batches are gathered by DataLoader workers (pinned on CUDA, so the
copy overlaps the step) in exactly the order `EpochOrder` gives the device-resident path, so a seed gives
the same batches, full ones only, either way; the trainer evaluates the validation and test sets a batch at a
time.
"""

import logging

import torch
from torch.utils.data import DataLoader, Dataset

from normbench.data._registry import Splits
from normbench.data.pipeline.batches import EpochOrder

log = logging.getLogger("normbench")

CUDA_SHARE = 0.5  # of a CUDA device's memory, the default budget for data


def device_budget(max_device_bytes: int | None, device: torch.device) -> int | None:
    """The bytes of data the device may hold (None: no limit)."""
    if max_device_bytes is not None:
        return max_device_bytes
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * CUDA_SHARE)
    return None


def data_bytes(splits: Splits) -> int:
    return sum(t.element_size() * t.nelement() for t in splits.tensors().values())


def must_stream(splits: Splits, max_device_bytes: int | None, device: torch.device) -> bool:
    budget = device_budget(max_device_bytes, device)
    return budget is not None and data_bytes(splits) > budget


class _Rows(Dataset):
    """A whole batch per key: the key is a tensor of sample indices (one gather, no per-sample collation)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x.index_select(0, index), self.y.index_select(0, index)


class _Ahead:
    """The batch indices from a given point on, for the DataLoader, which fetches them ahead of training."""

    def __init__(self, order: EpochOrder):
        self.order = order

    def __iter__(self):
        while True:
            yield self.order.next()


class StreamedBatches:
    """Training batches gathered in host memory by `workers` DataLoader processes and copied to `device`.

    The loader runs ahead of training, so what a checkpoint records is the order as far as batches were
    handed out (`self.order`, advanced in step with `next`); a restart resumes the loader from there.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator,
                 device: torch.device, workers: int):
        self.rows, self.device, self.workers = _Rows(x, y), device, workers
        self.order = EpochOrder(len(x), batch_size, generator)
        self.per_epoch = self.order.per_epoch
        self._loaded = None  # the loader's iterator, started at the first batch asked for

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._loaded is None:
            self._loaded = self._start()
        self.order.next()
        x, y = next(self._loaded)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _start(self):
        ahead = EpochOrder(self.order.size, self.order.batch_size, torch.Generator())
        ahead.load_state_dict(self.order.state_dict())
        loader = DataLoader(self.rows, sampler=_Ahead(ahead), batch_size=None, num_workers=self.workers,
                            pin_memory=self.device.type == "cuda")
        return iter(loader)

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)
        self._loaded = None  # the loader restarts from the restored order
