"""torchvision's classification models, with normbench's norm at every norm site (`model.arch=NAME`).

Builders of the ResNet family, MobileNet v2/v3, RegNet and EfficientNet-B pass a `norm_layer` down to every
norm site and call it with the channel count; every such site sees a 2-D map (N, C, H, W), so the norm is
built for the role map2d when the model is built (its parameters must exist before the optimizer), e.g.
LN as GroupNorm(1, C). Weights are never downloaded (weights=None); `num_classes` and the input channels
come from the data.

- `model.small_input=true` (ResNet family): the CIFAR stem, a 3x3 stride-1 conv and no max-pool, instead
  of ImageNet's 7x7 stride-2 conv and max-pool, which shrink a 32x32 image to 8x8 before the first block.
- `norm=group`: `model.groups` groups (default 32, Wu & He 2018) instead of `norm.groups`, whose default (5)
  is the MNIST-1D CNN's; `model.groups=null` uses `norm.groups`. Channels that 32 does not divide (MobileNet's
  16, 24, 40) are refused in one line naming the group counts that divide every site.
- `model.swap_norms=true`: any classification arch is built as torchvision defines it and its norms are then
  replaced (normbench/models/nets/swaps.py), e.g. vgg11_bn or densenet121, whose builders take no `norm_layer`.

This module holds the schema, the checks and the builder; what fits a network to the data (input channels, the
CIFAR stem) is in nets/torchvision.py.
"""

import math
from dataclasses import dataclass, replace
from typing import Optional

from normbench.config.options import ModelConfig
from normbench.decide.groups import PAPER_GROUPS
from normbench.errors import ConfigError
from normbench.models._registry import register_model

# Families whose builders take a norm_layer used only on channels-first 2-D maps.
NORM_LAYER_FAMILIES = ("resnet", "resnext", "wide_resnet", "mobilenet_v2", "mobilenet_v3", "regnet", "efficientnet_b")
# Families whose norm_layer also meets channels-last tokens: only swapping gets the layout right.
CHANNELS_LAST_FAMILIES = ("convnext", "vit_", "swin", "maxvit")
SMALL_INPUT_FAMILIES = ("resnet", "resnext", "wide_resnet")


@dataclass
class TorchvisionConfig(ModelConfig):
    arch: str = "resnet18"
    # The CIFAR stem (3x3 conv, stride 1, no max-pool) instead of ImageNet's; ResNet family only.
    small_input: bool = False
    # GroupNorm's groups on these models (norm=group); null = norm.groups.
    groups: Optional[int] = PAPER_GROUPS
    # Build the model with torchvision's own norms, then replace each by the selected norm.
    swap_norms: bool = False

    def label(self) -> str:
        return f"{self.name}-{self.arch}"

    def variant(self) -> Optional[str]:
        return self.arch

    def norm_roles(self, shape: tuple) -> Optional[frozenset]:
        # its norm_layer builds norms over 2-D maps; swapped norms take the roles of whatever the arch holds
        return None if self.swap_norms else frozenset({"map2d"})

    def check(self) -> None:
        if self.groups is not None and self.groups < 1:
            raise ConfigError(f"model.groups={self.groups} must be positive (or null for norm.groups)")


# What installs a torchvision that loads beside a torch built for it, from normbench's checkout (scripts/setup.sh).
SETUP_VISION = "bash scripts/setup.sh vision"


def torchvision_models():
    """torchvision.models, or a one-line error saying why it cannot be used and what installs one that can."""
    try:
        import torchvision.models as models
    except ImportError:
        raise ConfigError(f"model=torchvision needs torchvision, which is not installed: run `{SETUP_VISION}` in "
                          f"normbench's checkout (it installs a torch and the torchvision built for it)") from None
    except RuntimeError as error:  # e.g. "operator torchvision::nms does not exist": a build for another torch
        import torch

        raise ConfigError(f"torchvision cannot be imported with torch {torch.__version__} "
                          f"({str(error).splitlines()[0]}): its build does not match torch; run `{SETUP_VISION}` in "
                          f"normbench's checkout (it installs a torch and the torchvision built for it)") from None
    return models


def _examples(names: list[str]) -> str:
    return ", ".join(n for n in ("resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "mobilenet_v2",
                                 "mobilenet_v3_small", "regnet_x_400mf", "efficientnet_b0") if n in names)


def _check_arch(cfg: TorchvisionConfig, names: list[str]) -> None:
    if cfg.arch not in names:
        raise ConfigError(f"model.arch={cfg.arch} is not a torchvision classification model; e.g. {_examples(names)} "
                          f"(torchvision.models.list_models() lists all {len(names)})")
    if cfg.swap_norms:
        return
    if cfg.arch.startswith(CHANNELS_LAST_FAMILIES):
        raise ConfigError(f"model.arch={cfg.arch} applies its norm_layer to channels-last tokens as well as maps; "
                          f"use model.swap_norms=true, or one of: {_examples(names)}")
    if not cfg.arch.startswith(NORM_LAYER_FAMILIES):
        raise ConfigError(f"model.arch={cfg.arch}: its builder takes no norm_layer; use model.swap_norms=true, or "
                          f"one of: {_examples(names)}")


def _group_factory(cfg: TorchvisionConfig, make_norm, arch_channels: list[int]):
    """The factory for norm=group with model.groups (refused in one line where they do not divide a site)."""
    if make_norm.name != "group" or cfg.groups is None:
        return make_norm
    bad = sorted({c for c in arch_channels if c % cfg.groups})
    if bad:
        common = math.gcd(*arch_channels)
        allowed = [d for d in range(1, common + 1) if common % d == 0]
        raise ConfigError(
            f"norm=group: model.groups={cfg.groups} does not divide the {', '.join(map(str, bad))} channels of "
            f"{cfg.arch}'s norm sites; groups that divide every site: {', '.join(map(str, allowed))} "
            f"(set model.groups=N)"
        )
    return make_norm.with_config(replace(make_norm.cfg, groups=cfg.groups))


@register_model("torchvision", config=TorchvisionConfig, capturable=True)
def build(cfg: TorchvisionConfig, spec, make_norm):
    from torch import nn  # torch: imported when a model is built, not when a config is checked

    from normbench.models.nets.swaps import swap_norms
    from normbench.models.nets.torchvision import set_input_channels, small_input_stem

    if spec.spatial_dims != 2:
        raise ConfigError(f"model=torchvision needs images (shape [C, H, W]); this data has shape {list(spec.shape)} "
                          f"(for synthetic data try data.shape=[3,32,32])")
    models = torchvision_models()
    names = models.list_models(module=models)
    _check_arch(cfg, names)
    owner = f"model=torchvision model.arch={cfg.arch}"

    def make(norm_layer=None):
        kwargs = {} if norm_layer is None else {"norm_layer": norm_layer}
        model = models.get_model(cfg.arch, weights=None, num_classes=spec.num_classes, **kwargs)
        if cfg.small_input:
            small_input_stem(cfg, model, spec.shape[0])
        set_input_channels(model, spec.shape[0])
        return model

    if cfg.swap_norms:
        if make_norm.name == "group" and cfg.groups is not None:
            channels = [m.num_features if isinstance(m, nn.BatchNorm2d) else m.num_channels
                        for m in make().modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
            make_norm = _group_factory(cfg, make_norm, channels or [cfg.groups])
        return swap_norms(make(), spec, make_norm, owner)
    if make_norm.name == "group" and cfg.groups is not None:
        channels: list[int] = []
        make(lambda c, *args, **kwargs: channels.append(int(c)) or nn.Identity())
        make_norm = _group_factory(cfg, make_norm, channels)
    return make(lambda num_features, *args, **kwargs: make_norm("map2d", int(num_features)))
