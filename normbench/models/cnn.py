"""CNN: each layer is Conv -> Norm -> ReLU, then a linear head on the flattened last map.

1-D convs for [C, L] data (norm role `map1d`), 2-D convs for [C, H, W] data (`map2d`). Defaults reproduce
the MNIST-1D paper's CNN: three convs of 25 channels, kernels 5/3/3, stride 2, padding 1 (5,210 params).
This module holds the schema and the builder; the network is in nets/cnn.py.
"""

from dataclasses import dataclass, field
from typing import List, Optional

from normbench.config.options import ModelConfig
from normbench.errors import ConfigError
from normbench.models._registry import register_model


@dataclass
class CNNConfig(ModelConfig):
    # One entry per conv layer; 1-D or 2-D convs follow the data's shape.
    channels: List[int] = field(default_factory=lambda: [25, 25, 25])
    kernel_sizes: List[int] = field(default_factory=lambda: [5, 3, 3])
    strides: List[int] = field(default_factory=lambda: [2, 2, 2])
    padding: int = 1

    def norm_roles(self, shape: tuple) -> Optional[frozenset]:
        return {2: frozenset({"map1d"}), 3: frozenset({"map2d"})}.get(len(shape))  # [C, L] or [C, H, W]

    def check(self) -> None:
        lengths = {len(self.channels), len(self.kernel_sizes), len(self.strides)}
        if len(lengths) != 1 or not self.channels:
            raise ConfigError("model.channels, model.kernel_sizes and model.strides must be non-empty lists of "
                              "equal length")
        if min(*self.channels, *self.kernel_sizes, *self.strides) < 1 or self.padding < 0:
            raise ConfigError("model.channels, model.kernel_sizes and model.strides must be positive and "
                              "model.padding >= 0")


@register_model("cnn", config=CNNConfig, capturable=True)
def build(cfg: CNNConfig, spec, make_norm):
    from torch import nn  # torch: imported when a model is built, not when a config is checked

    from normbench.models.nets.cnn import CNN, flat_width

    if spec.spatial_dims not in (1, 2):
        raise ConfigError(
            f"model=cnn needs data with positions (shape [C, L] or [C, H, W]); this data has shape "
            f"{list(spec.shape)} (for synthetic data try data.shape=[1,128])"
        )
    conv_cls = nn.Conv1d if spec.spatial_dims == 1 else nn.Conv2d
    role = "map1d" if spec.spatial_dims == 1 else "map2d"
    layers, channels = [], spec.shape[0]
    for out, kernel, stride in zip(cfg.channels, cfg.kernel_sizes, cfg.strides):
        layers += [
            conv_cls(channels, out, kernel, stride=stride, padding=cfg.padding),
            make_norm(role, out),
            nn.ReLU(),
        ]
        channels = out
    features = nn.Sequential(*layers)
    return CNN(features, nn.Linear(flat_width(features, spec), spec.num_classes))

