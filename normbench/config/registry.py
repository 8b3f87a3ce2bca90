"""Name -> option registries whose entries register themselves, with their schema, in one decorator.

An option (a norm, a model, a data set, an optimizer) is one module that decorates its builder:

    @register_norm("group", roles=(...), config=GroupNormConfig)
    def build(cfg: GroupNormConfig, site) -> nn.Module: ...

The decorator records the builder and stores the schema in Hydra's ConfigStore as `schema/<group>/<name>`;
configs/config.yaml merges the selected option's YAML onto it (`schema/norm@norm: ${norm}`), so Hydra
types and checks every key of the option, and only its keys. Entries come from the package's own modules,
from a user directory (`user_dir=DIR`) and from the `normbench.plugins` entry points (normbench/config/plugins.py).
"""

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, TypeVar

from hydra.core.config_store import ConfigStore

from normbench.errors import ConfigError

Build = TypeVar("Build", bound=Callable)

# (group, name) -> the module that registered the option: which code a run executes (normbench/config/code.py),
# readable without importing the registries' packages (and torch with them).
_OPTION_MODULES: Dict[tuple[str, str], str] = {}


def option_module(group: str, name: str) -> str | None:
    """The module that registered option `name` of `group` in this process (None: not registered)."""
    return _OPTION_MODULES.get((group, name))


@dataclass(frozen=True)
class Option(Generic[Build]):
    name: str
    build: Build
    config: type  # the option's schema dataclass
    traits: Any = None  # what the kind records beside the builder (e.g. a norm's roles)


class Registry(Generic[Build]):
    """The options of one kind, e.g. Registry("norm", "normbench.norms", NormConfig)."""

    def __init__(self, group: str, package: str, base_config: type):
        self.group, self.base_config = group, base_config
        self._package = package
        self._entries: Dict[str, Option[Build]] = {}
        self._loaded = False

    def register(self, name: str, config: type | None = None, traits: Any = None) -> Callable[[Build], Build]:
        """Decorator: register the decorated builder as option `name` with schema `config` (default: the
        kind's base schema, for an option without hyperparameters of its own)."""
        config = config or self.base_config
        if not issubclass(config, self.base_config):
            raise TypeError(f"{self.group} {name!r}: its config {config.__name__} must derive from "
                            f"{self.base_config.__name__}")

        def decorate(build: Build) -> Build:
            existing = self._entries.get(name)
            if existing is not None and _qualified(existing.build) != _qualified(build):
                raise ValueError(f"{self.group} {name!r} is registered twice ({existing.build.__module__} and "
                                 f"{build.__module__})")
            self._entries[name] = Option(name, build, config, traits)
            _OPTION_MODULES[(self.group, name)] = build.__module__
            ConfigStore.instance().store(group=f"schema/{self.group}", name=name, node=config)
            return build

        return decorate

    def get(self, name: str) -> Option[Build]:
        self.load()
        if name not in self._entries:
            raise ConfigError(f"unknown {self.group} {name!r}; choose one of: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        self.load()
        return sorted(self._entries)

    def entries(self) -> Dict[str, Option[Build]]:
        self.load()
        return dict(self._entries)

    def load(self) -> None:
        """Import every public module of the package (each registers itself); plugins register when imported.

        Only the package's top-level modules are options: private modules (`_name.py`) and sub-packages hold
        what the options build with (e.g. normbench/norms/layers/), which imports torch. The options' own
        modules import none at the top, so composing and checking a config never waits for torch."""
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self._package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_") and not module.ispkg:
                importlib.import_module(f"{self._package}.{module.name}")


def _qualified(build: Callable) -> str:
    """A builder's full name: a module executed again (e.g. a test reloading a plugin) re-registers the same one."""
    return f"{build.__module__}.{build.__qualname__}"
