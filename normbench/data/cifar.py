"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the python-version batch files, which the user downloads
once and puts in data.root (or data.root/cifar-10-batches-py, cifar-100-python: the tarballs extracted).
The batches are python-2 pickles, read with encoding="latin1" by an unpickler that runs no code. Pixels are
scaled to [0, 1] and standardized per channel with the training set's statistics."""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from normbench.config.options import execution_only
from normbench.data._files import FileDataConfig, make_splits, required_path
from normbench.data._pickle import load_arrays_pickle
from normbench.data._registry import register_dataset
from normbench.errors import ConfigError

CIFAR10 = {"title": "CIFAR-10", "folder": "cifar-10-batches-py", "archive": "cifar-10-python.tar.gz",
           "train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"], "labels": "labels",
           "classes": 10}
CIFAR100 = {"title": "CIFAR-100", "folder": "cifar-100-python", "archive": "cifar-100-python.tar.gz",
            "train": ["train"], "test": ["test"], "labels": "fine_labels", "classes": 100}


@dataclass
class CifarDataConfig(FileDataConfig):
    root: Optional[str] = execution_only(None)  # holds the batch files (or the extracted folder that does)

    def kind(self) -> dict:
        return CIFAR100 if self.name == "cifar100" else CIFAR10

    def expected(self) -> str:
        kind = self.kind()
        names = ", ".join(kind["train"] + kind["test"]) if len(kind["train"]) < 5 else \
            "data_batch_1..data_batch_5, test_batch"
        return (f"the {kind['title']} python batches ({names}) in data.root or data.root/{kind['folder']} "
                f"({kind['archive']}, extracted; nothing is downloaded)")

    def files(self) -> List[Tuple[str, Path]]:
        kind = self.kind()
        root = required_path(self.root, "data.root", self.name, self.expected())
        for folder in (root, root / kind["folder"]):
            paths = [folder / name for name in kind["train"] + kind["test"]]
            if all(path.is_file() for path in paths):
                return [(path.name, path) for path in paths]
        missing = [name for name in kind["train"] + kind["test"] if not (root / name).is_file()
                   and not (root / kind["folder"] / name).is_file()]
        lacking = f"lacks {', '.join(missing)}" if missing else "holds them in different folders"
        raise ConfigError(f"data.root={root} {lacking}; expected {self.expected()}")


def _batches(paths: List[Path], cfg: CifarDataConfig):
    kind = cfg.kind()
    images, labels = [], []
    for path in paths:
        batch = load_arrays_pickle(path, cfg.expected())
        if not isinstance(batch, dict) or "data" not in batch or kind["labels"] not in batch:
            keys = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
            raise ConfigError(f"{path} is not a {kind['title']} batch (it holds {keys}; expected 'data' and "
                              f"{kind['labels']!r}); expected {cfg.expected()}")
        data, y = np.asarray(batch["data"]), np.asarray(batch[kind["labels"]])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(y) != len(data):
            raise ConfigError(f"{path}: 'data' must be uint8 of shape [N, 3072] with one label each (got "
                              f"{data.dtype} {list(data.shape)}, {len(y)} labels); expected {cfg.expected()}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels)


def load(cfg: CifarDataConfig):
    kind = cfg.kind()
    paths = [path for _, path in cfg.files()]
    x_train, y_train = _batches(paths[: len(kind["train"])], cfg)
    x_test, y_test = _batches(paths[len(kind["train"]):], cfg)
    return make_splits(cfg, x_train / np.float32(255), y_train, x_test / np.float32(255), y_test,
                       source=f"data.root={cfg.root}", num_classes=kind["classes"])


register_dataset("cifar10", config=CifarDataConfig)(load)
register_dataset("cifar100", config=CifarDataConfig)(load)
