"""MLP: each hidden layer is Linear -> Norm -> ReLU (norms act on feature vectors: role `features`).

Defaults reproduce the MNIST-1D paper's MLP: 40 -> 100 -> 100 -> 10 with a residual connection around
the second layer (15,210 parameters without norms). `layer_norms` sets a norm per hidden layer.
This module holds the schema and the builder; the network is in nets/mlp.py.
"""

import math
from dataclasses import dataclass, field
from typing import List, Optional

from normbench.config.options import ModelConfig
from normbench.errors import ConfigError
from normbench.models._registry import register_model


@dataclass
class MLPConfig(ModelConfig):
    # Widths of the hidden layers; a residual connection joins consecutive layers of equal width.
    hidden: List[int] = field(default_factory=lambda: [100, 100])
    residual: bool = True
    # One norm name per hidden layer (e.g. [batch, layer]); null = `norm` for every layer.
    layer_norms: Optional[List[str]] = None

    def layer_norm_names(self) -> Optional[List[str]]:
        return list(self.layer_norms) if self.layer_norms else None

    def norm_roles(self, shape: tuple) -> Optional[frozenset]:
        return frozenset({"features"})

    def check(self) -> None:
        if not self.hidden or min(self.hidden) < 1:
            raise ConfigError(f"model.hidden={list(self.hidden)} must be a non-empty list of positive widths")
        if self.layer_norms is not None and len(self.layer_norms) != len(self.hidden):
            raise ConfigError(
                f"model.layer_norms has {len(self.layer_norms)} entries but model.hidden has "
                f"{len(self.hidden)} layers; give one norm per hidden layer"
            )


@register_model("mlp", config=MLPConfig, capturable=True)
def build(cfg: MLPConfig, spec, make_norm):
    from torch import nn  # torch: imported when a model is built, not when a config is checked

    from normbench.models.nets.mlp import MLP, HiddenLayer

    layers, width = [], math.prod(spec.shape)
    names = cfg.layer_norm_names() or [None] * len(cfg.hidden)  # None: the selected norm
    for out, norm_name in zip(cfg.hidden, names):
        norm = make_norm("features", out, name=norm_name)
        layers.append(HiddenLayer(nn.Linear(width, out), norm, residual=cfg.residual and width == out))
        width = out
    return MLP(layers, nn.Linear(width, spec.num_classes))
