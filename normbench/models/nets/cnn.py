"""The CNN network (model=cnn, normbench/models/cnn.py): conv layers, a linear head on the flattened last map,
and the head's input width from a dry run."""

import copy

import torch
from torch import nn

from normbench.errors import ConfigError


class CNN(nn.Module):
    def __init__(self, features: nn.Sequential, head: nn.Linear):
        super().__init__()
        self.features, self.head = features, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def flat_width(features: nn.Sequential, spec) -> int:
    """The head's input width, from a dry run in train mode (which also catches maps too small to
    normalize) on a copy, so no running statistics are touched."""
    with torch.no_grad():
        try:
            return copy.deepcopy(features)(torch.randn(2, *spec.shape)).flatten(1).shape[1]
        except (RuntimeError, ValueError) as error:
            reason = str(error).splitlines()[0]
            raise ConfigError(f"model=cnn does not fit input shape {list(spec.shape)}: {reason}") from None
