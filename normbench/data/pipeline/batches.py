"""Training batches: which samples each step takes (`EpochOrder`), and how they reach the device.

Each epoch is a fresh permutation cut into full batches; the remainder is dropped so every step sees
exactly `batch_size` samples (BN's statistics, and the loss scale, never change between steps). Data that
fit the device's budget are moved there once and batches are index-selected in place (`EpochBatches`, no
per-sample DataLoader); larger data stay in host memory and stream (normbench/data/pipeline/stream.py) in the
same order, so a seed gives the same batches either way. `data.augment` wraps either
(normbench/data/pipeline/augment.py).

Every kind offers the trainer the same protocol (`Batches`): `next()`, `per_epoch`, and a `state_dict()`
of tensors and plain values that `load_state_dict` resumes from exactly.
"""

from typing import Protocol

import torch

from normbench.errors import ConfigError


class Batches(Protocol):
    per_epoch: int

    def next(self) -> tuple[torch.Tensor, torch.Tensor]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class EpochOrder:
    """The sample indices of each training batch, epoch after epoch, on `device`."""

    def __init__(self, size: int, batch_size: int, generator: torch.Generator, device: torch.device | None = None):
        if batch_size > size:
            raise ConfigError(f"batch_size={batch_size} exceeds the {size} training samples; use at most {size}")
        self.size, self.batch_size, self.generator = size, batch_size, generator
        self.device = device or torch.device("cpu")
        self.per_epoch = size // batch_size
        self._order = torch.empty(0, dtype=torch.int64)
        self._position = self.per_epoch  # start a new epoch on the first call

    def next(self) -> torch.Tensor:
        if self._position == self.per_epoch:
            # The permutation is drawn on the CPU so the batch order is identical on every device.
            self._order = torch.randperm(self.size, generator=self.generator).to(self.device)
            self._position = 0
        start = self._position * self.batch_size
        self._position += 1
        return self._order[start : start + self.batch_size]

    def state_dict(self) -> dict:
        return {"order": self._order.cpu(), "position": self._position, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self._order = state["order"].to(self.device)
        self._position = state["position"]
        self.generator.set_state(state["generator"])


class EpochBatches:
    """Batches index-selected from tensors already on the device."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator):
        self.x, self.y = x, y
        self.order = EpochOrder(len(x), batch_size, generator, x.device)
        self.per_epoch = self.order.per_epoch

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.gather(self.next_index())

    def next_index(self) -> torch.Tensor:
        """The next batch's sample indices, on the device: what `next()` gathers (a CUDA graph copies them
        into its static index buffer and gathers inside the graph, normbench/engine/cuda_graph.py)."""
        return self.order.next()

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x.index_select(0, index), self.y.index_select(0, index)

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)
