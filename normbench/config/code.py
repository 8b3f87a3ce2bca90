"""A fingerprint of the code a run executes from outside normbench, for its identity.

normbench's own code is its version; code from elsewhere can change under the same command: the module of a
`model=factory model.target=MODULE:FUNCTION`, the `*.py` files of a `user_dir`, an installed plugin package.
Without them in the identity, an edited model would be taken for the run already finished ("skipping ...:
already completed", the old accuracy). The fingerprint holds, only where the run has such code:

  factory   a digest of the target module's file (not of the modules it imports: put those in a user_dir)
  user_dir  a digest of every *.py file of the user_dir (they may import one another)
  plugins   {distribution: version} of each installed plugin package providing an option the run uses
  modules   a digest of the file of any other module outside normbench providing an option the run uses

Hashing file bytes is cheap and imports nothing (a module of a package `a.b` only has `a` imported to be found).
"""

import hashlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from normbench.config.plugins import ENTRY_POINT_GROUP, USER_PACKAGE, user_dir_path
from normbench.config.registry import option_module
from normbench.errors import ConfigError

OPTION_SECTIONS = ("model", "norm", "data", "optim")  # the options whose code computes a run


def code_fingerprint(cfg: DictConfig) -> dict:
    """{factory, user_dir, plugins}: the parts this run has (empty for a run of normbench's own code only)."""
    fingerprint: dict = {}
    factory = _factory_file(cfg.model)
    if factory is not None:
        fingerprint["factory"] = files_digest([factory])
    if cfg.get("user_dir"):
        files = sorted(user_dir_path(cfg.user_dir).glob("*.py"))
        if files:
            fingerprint["user_dir"] = files_digest(files)
    plugins, others = _option_code(cfg)
    if plugins:
        fingerprint["plugins"] = plugins
    if others:
        fingerprint["modules"] = files_digest(others)
    return fingerprint


def files_digest(paths: list[Path]) -> str:
    """16 hex digits of sha256 over each file's name and bytes (its place on disk does not matter)."""
    total = hashlib.sha256()
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read {path} to fingerprint the run's code ({error.strerror})") from None
        total.update(f"{path.name}\0{len(data)}\0".encode())
        total.update(hashlib.sha256(data).digest())
    return total.hexdigest()[:16]


def _factory_file(model: DictConfig) -> Path | None:
    """The file of model=factory's target module, where it can be found (None: building it will say why)."""
    target = model.get("target") if model.get("name") == "factory" else None
    if not target or ":" not in target:
        return None
    module_name = target.partition(":")[0]
    if module_name in sys.modules:  # already imported: the file the build will call
        origin = getattr(sys.modules[module_name], "__file__", None)
        return Path(origin) if origin else None
    spec = _find_spec(module_name)
    if spec is None and USER_PACKAGE in sys.modules:
        spec = _find_spec(f"{USER_PACKAGE}.{module_name}")
    return Path(spec.origin) if spec is not None and spec.origin and os.path.isfile(spec.origin) else None


def _find_spec(module_name: str):
    """importlib's spec of the module, looked for where factory.load_target imports it (the working
    directory too); None where it is not found."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        return importlib.util.find_spec(module_name)
    except Exception:  # noqa: BLE001  (a parent package that fails to import: building the model says why, in one line)
        return None
    finally:
        if added:
            sys.path.remove(cwd)


def _option_code(cfg: DictConfig) -> tuple[dict[str, str], list[Path]]:
    """The code of the options this run uses that comes from outside normbench and its user_dir: {distribution:
    version} of the installed plugins among them, and the files of the other modules (the plugins not used
    here run nothing in this run beyond their registration)."""
    modules = {option_module(section, cfg[section].name) for section in OPTION_SECTIONS
               if OmegaConf.select(cfg, f"{section}.name") is not None}
    outside = sorted(m for m in modules if m and not m.startswith(("normbench.", f"{USER_PACKAGE}.")))
    if not outside:
        return {}, []
    versions, packaged = {}, set()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        package = entry_point.module.split(".")[0]
        if entry_point.dist is not None and any(m.split(".")[0] == package for m in outside):
            versions[entry_point.dist.name] = entry_point.dist.version
            packaged.add(package)
    files = [Path(sys.modules[m].__file__) for m in outside
             if m.split(".")[0] not in packaged and getattr(sys.modules.get(m), "__file__", None)]
    return versions, files
