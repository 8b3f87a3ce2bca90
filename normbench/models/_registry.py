"""Models by name. A model module registers `build(model_cfg, norm_cfg, spec) -> nn.Module`."""

from dataclasses import dataclass
from typing import Tuple

from normbench.config.registry import Registry


@dataclass(frozen=True)
class InputSpec:
    """What a model needs to know of the data: one sample's shape and the number of classes."""

    shape: Tuple[int, ...]  # [F] feature vector, [C, L] sequence, [C, H, W] image
    num_classes: int

    @property
    def spatial_dims(self) -> int:
        return len(self.shape) - 1


MODELS = Registry("model", "normbench.models")


def register_model(name: str):
    return MODELS.register(name)


def build_model(model_cfg, norm_cfg, spec: InputSpec):
    return MODELS.get(model_cfg.name)(model_cfg, norm_cfg, spec)
