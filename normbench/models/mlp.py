"""MLP: each hidden layer is Linear -> Norm -> ReLU (norms act on feature vectors: role `features`).

Defaults reproduce the MNIST-1D paper's MLP: 40 -> 100 -> 100 -> 10 with a residual connection around
the second layer (15,210 parameters without norms). `layer_norms` sets a norm per hidden layer.
"""

import math

import torch
from torch import nn

from normbench.errors import ConfigError
from normbench.models._registry import register_model
from normbench.norms import NormSite, create_norm


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


def _layer_norm_names(model_cfg, norm_cfg) -> list[str]:
    if model_cfg.layer_norms is None:
        return [norm_cfg.name] * len(model_cfg.hidden)
    if len(model_cfg.layer_norms) != len(model_cfg.hidden):
        raise ConfigError(
            f"model.layer_norms has {len(model_cfg.layer_norms)} entries but model.hidden has "
            f"{len(model_cfg.hidden)} layers; give one norm per hidden layer"
        )
    return list(model_cfg.layer_norms)


@register_model("mlp")
def build(model_cfg, norm_cfg, spec):
    if not model_cfg.hidden or min(model_cfg.hidden) < 1:
        raise ConfigError(f"model.hidden={list(model_cfg.hidden)} must be a non-empty list of positive widths")
    layers, width = [], math.prod(spec.shape)
    for i, (out, norm_name) in enumerate(zip(model_cfg.hidden, _layer_norm_names(model_cfg, norm_cfg))):
        norm = create_norm(norm_cfg, NormSite("features", out, "model=mlp"), name=norm_name)
        layers.append(HiddenLayer(nn.Linear(width, out), norm, residual=model_cfg.residual and width == out))
        width = out
    return MLP(layers, nn.Linear(width, spec.num_classes))
