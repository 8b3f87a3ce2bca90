"""The MLP network (model=mlp, normbench/models/mlp.py): hidden layers Linear -> Norm -> ReLU, a linear head."""

import torch
from torch import nn


class HiddenLayer(nn.Module):
    def __init__(self, linear: nn.Linear, norm: nn.Module, residual: bool):
        super().__init__()
        self.linear, self.norm, self.residual = linear, norm, residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.linear(x)))
        return x + h if self.residual else h


class MLP(nn.Module):
    def __init__(self, layers: list[HiddenLayer], head: nn.Linear):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(x.flatten(1)))
