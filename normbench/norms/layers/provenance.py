"""Whether every norm layer of a built model is one normbench made for the selected norm.

A run is labelled by its norm (`norm=layer`): that label is only true if each normalization in the model came
from the NormFactory (a model's `make_norm`, a factory's `norm_layer`, or a swap). A network that takes a
`norm_layer` but builds `nn.BatchNorm2d` itself would otherwise train as BN and be reported as LN.

Norm layers are the normalization classes of torch.nn and normbench's own (a plugin's norm is one the factory
made, or it is foreign code the check cannot name). Wrappers such as EachStep or TokenRows are not norm
layers: what they hold is.
"""

from torch import nn

from normbench.errors import ConfigError
from normbench.norms.layers.batch_family import BatchFamilyNorm
from normbench.norms.layers.rms import ChannelRMSNorm

NORM_LAYER_TYPES = (
    nn.modules.batchnorm._NormBase,  # BatchNorm1d/2d/3d, their Lazy forms, SyncBatchNorm, InstanceNorm1d/2d/3d
    nn.GroupNorm, nn.LayerNorm, nn.RMSNorm, nn.LocalResponseNorm, nn.CrossMapLRN2d,
    BatchFamilyNorm,  # batch (per step), batch renorm, ghost batch, switchable norm
    ChannelRMSNorm,
)
LISTED = 4  # foreign norms named in the message; the rest are counted


def is_norm_layer(module: nn.Module) -> bool:
    return isinstance(module, NORM_LAYER_TYPES)


def foreign_norms(model: nn.Module, made: list[nn.Module]) -> list[tuple[str, nn.Module]]:
    """Every (path, module) of `model` that is a norm layer and neither one of `made` nor inside one."""
    ours = {id(module) for norm in made for module in norm.modules()}
    return [(path, module) for path, module in model.named_modules()
            if is_norm_layer(module) and id(module) not in ours]


def check_norms_made(model: nn.Module, make_norm, owner: str) -> None:
    """Refuse, in one line, a model holding norm layers its NormFactory did not make."""
    foreign = foreign_norms(model, make_norm.made)
    if not foreign:
        return
    named = ", ".join(f"{path or '(the model itself)'} ({type(module).__name__})" for path, module in foreign[:LISTED])
    more = f" and {len(foreign) - LISTED} more" if len(foreign) > LISTED else ""
    if make_norm.name == "none":
        what = f"norm=none, but {owner} holds norm layers, at {named}{more}; a norm=none run must hold none"
    else:
        what = (f"{owner} holds norm layers normbench did not build for norm={make_norm.name}, at {named}{more}; "
                f"the run would be labelled {make_norm.name} while they normalize")
    raise ConfigError(f"{what}: build every norm with the norm_layer / make_norm you are given, or (model=factory, "
                      f"model=torchvision) set model.swap_norms=true to have normbench replace them")
