"""Models by name. A model module registers `build(cfg, spec, make_norm) -> nn.Module`:

  cfg        an instance of the model's own schema (a `ModelConfig` subclass)
  spec       the data's InputSpec (one sample's shape, the number of classes)
  make_norm  a NormFactory: make_norm(role, num_features) -> the selected norm for that site

`capturable=True` declares that the model's forward can be captured in a CUDA graph (trainer.cuda_graphs):
static shapes, no host syncs, no branches on tensor values. Undeclared models run eagerly on CUDA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Tuple

from normbench.config.options import ModelConfig
from normbench.config.registry import Registry

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class InputSpec:
    """What a model needs to know of the data: one sample's shape and the number of classes."""

    shape: Tuple[int, ...]  # [F] feature vector, [C, L] sequence, [C, H, W] image
    num_classes: int

    @property
    def spatial_dims(self) -> int:
        return len(self.shape) - 1


MODELS: Registry[Callable[..., nn.Module]] = Registry("model", "normbench.models", ModelConfig)


@dataclass(frozen=True)
class ModelTraits:
    capturable: bool = False  # its forward can be captured in a CUDA graph


def register_model(name: str, config: type[ModelConfig] | None = None, capturable: bool = False):
    """Decorator for `build(cfg, spec, make_norm) -> nn.Module`, registered as model `name` with schema `config`."""
    return MODELS.register(name, config, traits=ModelTraits(capturable))


def model_traits(name: str) -> ModelTraits:
    return MODELS.get(name).traits


def build_model(cfg: ModelConfig, spec: InputSpec, make_norm) -> nn.Module:
    """Model `cfg.name` built with `make_norm`; refused if it holds a norm layer `make_norm` did not make (its
    label would name a norm it does not use)."""
    from normbench.norms.layers.provenance import check_norms_made  # torch: imported when a model is built

    model = MODELS.get(cfg.name).build(cfg, spec, make_norm)
    variant = cfg.variant()
    check_norms_made(model, make_norm, f"model={cfg.name}" + (f" ({variant})" if variant else ""))
    return model
