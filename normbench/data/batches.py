"""Training batches by index sampling from tensors already on the device (no per-sample DataLoader).

Each epoch is a fresh permutation cut into full batches; the remainder is dropped so every step sees
exactly `batch_size` samples (BN's statistics, and the loss scale, never change between steps).
"""

import torch

from normbench.errors import ConfigError


class EpochBatches:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator):
        if batch_size > len(x):
            raise ConfigError(f"batch_size={batch_size} exceeds the {len(x)} training samples; use at most {len(x)}")
        self.x, self.y, self.batch_size, self.generator = x, y, batch_size, generator
        self.per_epoch = len(x) // batch_size
        self._order = torch.empty(0, dtype=torch.int64)
        self._position = self.per_epoch  # start a new epoch on the first call

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._position == self.per_epoch:
            # The permutation is drawn on the CPU so the batch order is identical on every device.
            self._order = torch.randperm(len(self.x), generator=self.generator).to(self.x.device)
            self._position = 0
        start = self._position * self.batch_size
        index = self._order[start : start + self.batch_size]
        self._position += 1
        return self.x.index_select(0, index), self.y.index_select(0, index)

    def state_dict(self) -> dict:
        return {"order": self._order.cpu(), "position": self._position, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self._order = state["order"].to(self.x.device)
        self._position = state["position"]
        self.generator.set_state(state["generator"])
