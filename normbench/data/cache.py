"""An on-disk cache of generated arrays, written atomically so a killed run never leaves half a file."""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict

import numpy as np


def cache_root(configured: str | None) -> Path:
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("NORMBENCH_CACHE", "~/.cache/normbench")).expanduser()


def cached_arrays(root: Path, name: str, params: dict, make: Callable[[], Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """Arrays for (name, params) from `root`, made once by `make()` and stored as .npz."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    path = root / f"{name}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as stored:
                return dict(stored)
        except (OSError, ValueError):
            pass  # an unreadable cache entry is rebuilt below
    arrays = make()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=path.name, suffix=".tmp.npz")
    with os.fdopen(fd, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)
    return arrays
