"""An on-disk cache of generated arrays, written atomically so a killed run never leaves half a file."""

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Dict

import numpy as np

from normbench.errors import ConfigError

log = logging.getLogger("normbench")


def cache_root(configured: str | None) -> Path:
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("NORMBENCH_CACHE", "~/.cache/normbench")).expanduser()


def cached_arrays(root: Path, name: str, params: dict,
                  make: Callable[[], Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """Arrays for (name, params) from `root`, made once by `make()` and stored as .npz."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    path = root / f"{name}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:  # arrays only: a cache file never runs code
                return dict(stored)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            log.warning("data cache %s is unreadable (%s: %s); generating it again", path, type(error).__name__, error)
    arrays = make()
    _store(root, path, arrays)
    return arrays


def _store(root: Path, path: Path, arrays: Dict[str, np.ndarray]) -> None:
    """Write the arrays atomically; a cache directory that cannot be written is a one-line ConfigError."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=path.name, suffix=".tmp.npz")
    except OSError as error:
        raise ConfigError(f"data cache directory {root} cannot be used ({error.strerror or error}); set "
                          f"data.cache_dir=DIR or $NORMBENCH_CACHE to a writable directory") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):  # e.g. a full disk: nothing half-written is left behind
            raise ConfigError(f"data cache {path} could not be written ({error.strerror or error})") from None
        raise
