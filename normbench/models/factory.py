"""Your own network: `model=factory model.target=MODULE:FUNCTION [model.kwargs={...}]`.

normbench imports MODULE (from the working directory, PYTHONPATH, or a `user_dir` plugin directory) and calls

    FUNCTION(norm_layer=norm_layer, num_classes=..., input_shape=(C, ...), **kwargs) -> nn.Module

`norm_layer(num_features)` returns the selected norm acting on channels-first tensors of any rank: (N, C),
(N, C, L), (N, C, H, W) (or more positions). Which one a site meets is learned from one dry run on two random
samples before the optimizer exists, and each site then holds normbench's norm for that role
(normbench/models/nets/swaps.py). With `model.swap_norms=true` the function is called without `norm_layer` and the
norms of the model it returns are replaced instead.
"""

import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Optional

from normbench.config.options import ModelConfig
from normbench.errors import ConfigError
from normbench.models._registry import register_model

if TYPE_CHECKING:
    from torch import nn

USER_PACKAGE = "normbench_user"  # where user_dir's files are imported (normbench/config/plugins.py)
SIGNATURE = "FUNCTION(norm_layer, num_classes, input_shape, **kwargs) -> nn.Module"


@dataclass
class FactoryConfig(ModelConfig):
    target: str = ""  # MODULE:FUNCTION (required)
    kwargs: Dict[str, Any] = field(default_factory=dict)
    swap_norms: bool = False

    def label(self) -> str:
        return f"{self.name}-{self.variant()}"

    def variant(self) -> Optional[str]:
        return self.target.replace(":", ".")

    def check(self) -> None:
        if not self.target:
            raise ConfigError("model=factory needs model.target=MODULE:FUNCTION (your function building the network)")
        module, sep, function = self.target.partition(":")
        if not (module and sep and function) or not function.isidentifier():
            raise ConfigError(f"model.target={self.target} must be MODULE:FUNCTION, e.g. model.target=my_nets:resnet")


def load_target(target: str):
    module_name, _, function_name = target.partition(":")
    module = _import(module_name, target)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(f"model.target={target}: module {module_name} ({getattr(module, '__file__', '?')}) has no "
                          f"function {function_name}")
    return function


def _import(module_name: str, target: str):
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name.split(".")[0] or USER_PACKAGE not in sys.modules:
                raise
            return importlib.import_module(f"{USER_PACKAGE}.{module_name}")  # a user_dir file
    except ModuleNotFoundError as error:
        raise ConfigError(f"model.target={target}: cannot import {module_name} ({error}); put it in the working "
                          f"directory, on PYTHONPATH, or in a user_dir=DIR") from None
    except Exception as error:
        raise ConfigError(f"model.target={target}: importing {module_name} failed: {type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}") from None
    finally:
        if added:
            sys.path.remove(cwd)


def _accepts(function, names: tuple[str, ...]) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True  # no signature to read (a builtin): let the call decide
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return True
    return all(name in parameters for name in names)


def _call(function, target: str, kwargs: dict) -> "nn.Module":
    from torch import nn  # torch: imported when a model is built, not when a config is checked

    try:
        model = function(**kwargs)
    except ConfigError:
        raise
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else ""
        raise ConfigError(f"model.target={target} raised {type(error).__name__}: {reason}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.target={target} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


@register_model("factory", config=FactoryConfig)
def build(cfg: FactoryConfig, spec, make_norm):
    from normbench.models.nets.swaps import (  # torch: imported when a model is built
        channels_first_norm_layer,
        check_output,
        dry_run,
        pending_count,
        resolve_pending,
        swap_norms,
    )

    function = load_target(cfg.target)
    owner = f"model.target={cfg.target}"
    common = {"num_classes": spec.num_classes, "input_shape": tuple(spec.shape), **cfg.kwargs}
    if not _accepts(function, tuple(common)):
        raise ConfigError(f"{owner} must accept {', '.join(common)} as keyword arguments: {SIGNATURE}")
    if cfg.swap_norms:
        return swap_norms(_call(function, cfg.target, common), spec, make_norm, owner)
    if not _accepts(function, ("norm_layer",)):
        raise ConfigError(f"{owner} takes no norm_layer; expected {SIGNATURE} (or set model.swap_norms=true to "
                          f"replace the norms of the model it builds)")
    sites: list = []
    model = _call(function, cfg.target, {"norm_layer": channels_first_norm_layer(sites), **common})
    if pending_count(model) != len({id(site) for site in sites}):
        raise ConfigError(f"{owner}: every module norm_layer returns must be a submodule of the model (assigned to "
                          f"an attribute, nn.Sequential or nn.ModuleList), not kept in a plain list or dict")
    check_output(dry_run(model, spec.shape, owner), spec, owner)
    resolve_pending(model, make_norm, owner)
    return model
