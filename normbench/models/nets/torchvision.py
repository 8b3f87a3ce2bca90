"""torchvision's networks fitted to the data (model=torchvision, normbench/models/torchvision.py): the first conv
takes the data's channels, and the ResNet family may take the CIFAR stem (`model.small_input=true`).
"""

from torch import nn

from normbench.errors import ConfigError
from normbench.models.torchvision import SMALL_INPUT_FAMILIES, TorchvisionConfig


def small_input_stem(cfg: TorchvisionConfig, model: nn.Module, in_channels: int) -> None:
    if not cfg.arch.startswith(SMALL_INPUT_FAMILIES):
        raise ConfigError(f"model.small_input=true is implemented for the ResNet family (resnet*, resnext*, "
                          f"wide_resnet*) only, not for {cfg.arch}; set model.small_input=false")
    model.conv1 = nn.Conv2d(in_channels, model.conv1.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()


def set_input_channels(model: nn.Module, in_channels: int) -> None:
    """torchvision's stems expect 3 channels: the first conv takes the data's channel count instead."""
    for path, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels != in_channels:
                conv = nn.Conv2d(in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                                 module.dilation, module.groups, module.bias is not None, module.padding_mode)
                parent_path, _, name = path.rpartition(".")
                setattr(model.get_submodule(parent_path) if parent_path else model, name, conv)
            return
