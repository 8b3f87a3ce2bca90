"""CNN: each layer is Conv -> Norm -> ReLU, then a linear head on the flattened last map.

1-D convs for [C, L] data (norm role `map1d`), 2-D convs for [C, H, W] data (`map2d`). Defaults reproduce
the MNIST-1D paper's CNN: three convs of 25 channels, kernels 5/3/3, stride 2, padding 1 (5,210 params).
"""

import copy

import torch
from torch import nn

from normbench.errors import ConfigError
from normbench.models._registry import register_model
from normbench.norms import NormSite, create_norm


class CNN(nn.Module):
    def __init__(self, features: nn.Sequential, head: nn.Linear):
        super().__init__()
        self.features, self.head = features, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def _check_layers(model_cfg, spec) -> None:
    if spec.spatial_dims not in (1, 2):
        raise ConfigError(
            f"model=cnn needs data with positions (shape [C, L] or [C, H, W]); this data has shape "
            f"{list(spec.shape)} (for synthetic data try data.shape=[1,128])"
        )
    lengths = {len(model_cfg.channels), len(model_cfg.kernel_sizes), len(model_cfg.strides)}
    if len(lengths) != 1 or not model_cfg.channels:
        raise ConfigError("model.channels, model.kernel_sizes and model.strides must be non-empty lists of equal length")


@register_model("cnn")
def build(model_cfg, norm_cfg, spec):
    _check_layers(model_cfg, spec)
    conv_cls = nn.Conv1d if spec.spatial_dims == 1 else nn.Conv2d
    role = "map1d" if spec.spatial_dims == 1 else "map2d"
    layers, channels = [], spec.shape[0]
    for out, kernel, stride in zip(model_cfg.channels, model_cfg.kernel_sizes, model_cfg.strides):
        layers += [
            conv_cls(channels, out, kernel, stride=stride, padding=model_cfg.padding),
            create_norm(norm_cfg, NormSite(role, out, "model=cnn")),
            nn.ReLU(),
        ]
        channels = out
    features = nn.Sequential(*layers)
    return CNN(features, nn.Linear(_flat_width(features, spec), spec.num_classes))


def _flat_width(features: nn.Sequential, spec) -> int:
    """The head's input width, from a dry run in train mode (which also catches maps too small to
    normalize) on a copy, so no running statistics are touched."""
    with torch.no_grad():
        try:
            return copy.deepcopy(features)(torch.randn(2, *spec.shape)).flatten(1).shape[1]
        except (RuntimeError, ValueError) as error:
            reason = str(error).splitlines()[0]
            raise ConfigError(f"model=cnn does not fit input shape {list(spec.shape)}: {reason}") from None
