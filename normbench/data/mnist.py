"""MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao et al. 2017) from their standard IDX files, gzipped or
not, which the user downloads once and puts in data.root (or data.root/<MNIST|FashionMNIST>/raw, where
torchvision keeps them). 28x28 grayscale, 10 classes; pixels scaled to [0, 1] and standardized with the
training set's mean and standard deviation."""

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from normbench.config.options import execution_only
from normbench.data._files import FileDataConfig, make_splits, one_line, required_path
from normbench.data._registry import register_dataset
from normbench.errors import ConfigError

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TITLES = {"mnist": ("MNIST", "MNIST"), "fashion_mnist": ("Fashion-MNIST", "FashionMNIST")}


@dataclass
class IdxDataConfig(FileDataConfig):
    root: Optional[str] = execution_only(None)  # holds the four IDX files (.gz or not)

    def expected(self) -> str:
        title, folder = TITLES[self.name]
        return (f"the {title} IDX files {', '.join(FILES)} (each .gz or not) in data.root or "
                f"data.root/{folder}/raw (nothing is downloaded)")

    def files(self) -> List[Tuple[str, Path]]:
        root = required_path(self.root, "data.root", self.name, self.expected())
        found, missing = [], []
        for name in FILES:
            candidates = [folder / f"{name}{suffix}" for folder in (root, root / TITLES[self.name][1] / "raw")
                          for suffix in ("", ".gz")]
            path = next((path for path in candidates if path.is_file()), None)
            if path is None:
                missing.append(name)
            else:
                found.append((name, path))
        if missing:
            raise ConfigError(f"data.root={root} lacks {', '.join(missing)}[.gz]; expected {self.expected()}")
        return found


def read_idx(path: Path, expected: str) -> np.ndarray:
    """An IDX file (unsigned bytes): magic 0 0 0x08 ndim, big-endian int32 sizes, then the values."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ConfigError(f"{path} cannot be read ({one_line(error)}); expected {expected}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 3:
        raise ConfigError(f"{path} is not an IDX file of unsigned bytes (its header is {raw[:4].hex() or 'empty'}, "
                          f"expected 00000801 or 00000803); expected {expected}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    sizes = tuple(int(v) for v in np.frombuffer(raw[4:header], dtype=">i4")) if len(raw) >= header else ()
    if len(sizes) != ndim or len(raw) - header != int(np.prod(sizes)):
        raise ConfigError(f"{path} is truncated or malformed (header sizes {list(sizes)}, {len(raw) - header} bytes "
                          f"of values); expected {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(sizes)


@register_dataset("mnist", config=IdxDataConfig)
@register_dataset("fashion_mnist", config=IdxDataConfig)
def load(cfg: IdxDataConfig):
    arrays = {name: read_idx(path, cfg.expected()) for name, path in cfg.files()}
    x_train, y_train, x_test, y_test = (arrays[name] for name in FILES)
    for name, images in (("train-images-idx3-ubyte", x_train), ("t10k-images-idx3-ubyte", x_test)):
        if images.ndim != 3:
            raise ConfigError(f"{name} holds an array of shape {list(images.shape)}, expected [N, rows, columns]")
    for name, labels in (("train-labels-idx1-ubyte", y_train), ("t10k-labels-idx1-ubyte", y_test)):
        if labels.ndim != 1:
            raise ConfigError(f"{name} holds an array of shape {list(labels.shape)}, expected [N] labels")
    return make_splits(cfg, x_train[:, None] / np.float32(255), y_train, x_test[:, None] / np.float32(255), y_test,
                       source=f"data.root={cfg.root}", num_classes=10)
