"""Where options come from: the package's own modules, installed plugins, and a user directory.

- the package: every module of normbench.norms, .models, .data and .optim registers itself on import;
- installed plugins: each entry point of the group `normbench.plugins` names a module to import
  (`[project.entry-points."normbench.plugins"] mynorms = "mypackage.norms"`);
- `user_dir=DIR` (fairseq's --user-dir): every `*.py` in DIR is imported as a module of the package
  `normbench_user` (so plugin files can import each other relatively), and `DIR/configs`, if present, joins
  Hydra's search path, so `DIR/configs/norm/NAME.yaml` is the YAML of a plugin norm NAME.

All of it happens before Hydra composes the config: an option's schema must be in Hydra's ConfigStore then.
"""

import importlib
import importlib.util
import sys
import types
from importlib.metadata import entry_points
from pathlib import Path

from normbench.errors import ConfigError

ENTRY_POINT_GROUP = "normbench.plugins"
USER_PACKAGE = "normbench_user"
_loaded_dirs: set[Path] = set()
_entry_points_loaded = False


def load_options(user_dir: str | None = None) -> None:
    """Register every option: the package's, the installed plugins', and those in `user_dir` (idempotent)."""
    from normbench.config.schema import OPTION_GROUPS, VIEW_GROUPS

    for group in (*OPTION_GROUPS, *VIEW_GROUPS):
        registry(group).load()
    _load_entry_points()
    if user_dir:
        load_user_dir(user_dir)


def registry(group: str):
    """The registry of an option group: model, norm, data, optim or logger."""
    from normbench.data import DATASETS
    from normbench.models import MODELS
    from normbench.norms import NORMS
    from normbench.optim import OPTIMIZERS
    from normbench.trackers import TRACKERS

    return {"data": DATASETS, "model": MODELS, "norm": NORMS, "optim": OPTIMIZERS, "logger": TRACKERS}[group]


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as error:
            raise ConfigError(f"plugin {entry_point.name} ({entry_point.value}, entry point group "
                              f"{ENTRY_POINT_GROUP}) failed to import: {type(error).__name__}: {error}") from None


def user_dir_path(user_dir: str) -> Path:
    path = Path(user_dir).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"user_dir={user_dir} is not a directory; give a directory of plugin *.py files "
                          f"(and optionally configs/<group>/NAME.yaml)")
    return path


def load_user_dir(user_dir: str) -> None:
    """Import every *.py of the directory, in name order, as `normbench_user.<stem>`."""
    path = user_dir_path(user_dir)
    if path in _loaded_dirs:
        return
    _loaded_dirs.add(path)
    package = sys.modules.get(USER_PACKAGE)
    if package is None:
        package = types.ModuleType(USER_PACKAGE)
        package.__path__ = []
        sys.modules[USER_PACKAGE] = package
    package.__path__.append(str(path))
    for file in sorted(path.glob("*.py")):
        if file.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{USER_PACKAGE}.{file.stem}")
        except ConfigError:
            raise
        except Exception as error:
            raise ConfigError(f"user_dir plugin {file} failed to import: {type(error).__name__}: {error}") from None


def plugin_config_dirs(user_dir: str | None) -> list[Path]:
    """The `configs/` directories of the installed plugins' packages and of `user_dir`: the YAMLs of their
    options, for Hydra's search path."""
    dirs = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        spec = importlib.util.find_spec(entry_point.module)
        if spec is not None and spec.origin:
            dirs.append(Path(spec.origin).parent / "configs")
    if user_dir:
        dirs.append(user_dir_path(user_dir) / "configs")
    return [path for path in dirs if path.is_dir()]


def searchpath_override(config_dirs) -> str:
    """The Hydra override that puts these configs/ directories on the search path (after normbench's own)."""
    return f"hydra.searchpath=[{','.join(f'file://{path}' for path in config_dirs)}]"


def user_dir_argument(argv: list[str]) -> str | None:
    """The value of a `user_dir=DIR` override on the command line (the last one wins, as in Hydra)."""
    found = None
    for argument in argv:
        key, sep, value = argument.partition("=")
        if sep and key.lstrip("+") == "user_dir":
            found = value
    return found
