"""A name -> builder registry whose entries register themselves: adding one is one module, nothing else."""

import importlib
import pkgutil
from typing import Callable, Dict, Generic, TypeVar

from normbench.errors import ConfigError

Entry = TypeVar("Entry")


class Registry(Generic[Entry]):
    """Entries of one kind (norms, models, datasets), found by importing every module of `package`."""

    def __init__(self, kind: str, package: str):
        self.kind = kind
        self._package = package
        self._entries: Dict[str, Entry] = {}
        self._loaded = False

    def add(self, name: str, entry: Entry) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry

    def register(self, name: str) -> Callable:
        """Decorator: register the decorated function itself as entry `name`."""

        def decorate(fn):
            self.add(name, fn)
            return fn

        return decorate

    def get(self, name: str) -> Entry:
        self._load()
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entries(self) -> Dict[str, Entry]:
        self._load()
        return dict(self._entries)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self._package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self._package}.{module.name}")
