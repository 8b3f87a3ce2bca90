"""Arrays from the user's .npz file (numpy.savez): `x_train, y_train, x_test, y_test`, or `x, y` split by
data.test_fraction with the data's seed. Read with allow_pickle=False: a data file never runs code."""

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from normbench.config.options import execution_only
from normbench.data._files import (
    FileDataConfig,
    check_fraction,
    existing_file,
    make_splits,
    one_line,
    required_path,
    split_off_test,
)
from normbench.data._registry import register_dataset
from normbench.errors import ConfigError

EXPECTED = "an .npz holding x_train, y_train, x_test, y_test (or x, y with data.test_fraction)"


@dataclass
class NpzDataConfig(FileDataConfig):
    path: Optional[str] = execution_only(None)  # the .npz; its contents enter the identity (fingerprint)
    test_fraction: float = 0.2  # used only when the file holds x, y

    def check(self) -> None:
        super().check()
        check_fraction(self.test_fraction)

    def files(self) -> List[Tuple[str, Path]]:
        path = required_path(self.path, "data.path", "npz", EXPECTED)
        return [("data.npz", existing_file(path, "data.path", EXPECTED))]


@register_dataset("npz", config=NpzDataConfig)
def load(cfg: NpzDataConfig):
    (_, path), = cfg.files()
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ConfigError(f"data.path={path} is not a readable .npz ({one_line(error)}); expected {EXPECTED}") from None
    names = set(arrays)
    if {"x_train", "y_train", "x_test", "y_test"} <= names:
        parts = arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]
    elif {"x", "y"} <= names:
        parts = split_off_test(arrays["x"], arrays["y"], cfg.test_fraction, cfg.seed, "npz")
    else:
        raise ConfigError(f"data.path={path} holds arrays {sorted(names)}; expected {EXPECTED}")
    return make_splits(cfg, *parts, source=f"data.path={path}")
