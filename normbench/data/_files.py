"""What the data sets read from the user's files share: their base schema, the content fingerprint that
enters a run's identity, the checks, the seeded train/test split and subsets, and the splits made from them
(as tensors, standardized with training-set statistics: normbench/data/_tensors.py, imported when data are
loaded, so the schemas here are read without torch).

Nothing here downloads anything: a file that is missing or cannot be read is a one-line ConfigError that
names the files expected and where to put them.
"""

import hashlib
import json
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from normbench.config.options import DataConfig, at_least, positive
from normbench.data._registry import Splits
from normbench.data.cache import cache_root
from normbench.errors import ConfigError

log = logging.getLogger("normbench")

# The most classes a data set may have: a label of 2**40 would otherwise make a classifier head (and one-hot
# targets) of 2**40 outputs. ImageNet-21k has about 21,000; this leaves room for any real label set.
MAX_CLASSES = 100_000
FINGERPRINT_DIR = "fingerprints"  # under the data cache directory: one small file per state of a data set's files


@dataclass
class FileDataConfig(DataConfig, ABC):
    """The keys of every data set read from files. `shape` and `num_classes` are learned from the files while
    left empty / null (normbench.data.load_data fills them in before the model is built); a given `shape`
    reshapes each sample (same number of values), a given `num_classes` is checked against the labels."""

    shape: List[int] = field(default_factory=list)  # empty: each sample's shape as the files hold it
    num_classes: Optional[int] = None  # null: from the files (the classes they name, or the largest label + 1)
    num_train: Optional[int] = None  # null: every training sample; N: N of them drawn with data.seed
    num_test: Optional[int] = None  # null: every test sample; N: N of them drawn with data.seed
    standardize: bool = True  # zero mean, unit variance per channel (images) or feature (vectors), train stats

    def check(self) -> None:
        if self.shape and min(self.shape) < 1:
            raise ConfigError(f"data.shape={list(self.shape)} must be positive sizes (or [] for the files' own shape)")
        if self.num_classes is not None:
            at_least(self.num_classes, 2, "data.num_classes")
            if self.num_classes > MAX_CLASSES:
                raise ConfigError(f"data.num_classes={self.num_classes} is more than the {MAX_CLASSES} classes "
                                  f"normbench trains a classifier for")
        for key in ("num_train", "num_test"):
            if getattr(self, key) is not None:
                positive(getattr(self, key), f"data.{key}")
        self.check_feeding()

    @abstractmethod
    def files(self) -> List[Tuple[str, Path]]:
        """(name, path) of every file whose contents are the data; a ConfigError if one is missing."""

    def fingerprint(self) -> str:
        return content_fingerprint(self.files(), cache_root(self.cache_dir))


# --- locating files -----------------------------------------------------------------------------------------

def required_path(value: Optional[str], key: str, data: str, what: str) -> Path:
    """data.<key> as a path, which must be given."""
    if value is None or not str(value).strip():
        raise ConfigError(f"data={data} needs {key}=... ({what})")
    return Path(str(value)).expanduser()


def existing_file(path: Path, key: str, what: str) -> Path:
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"{key}={path} {state}; expected {what} there (nothing is downloaded)")
    return path


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- the content fingerprint --------------------------------------------------------------------------------

def content_fingerprint(files: Sequence[Tuple[str, Path]], cache_dir: Path) -> str:
    """A digest of the files' names (as given), sizes and contents (sha256). Hashing is cached in `cache_dir`
    by each file's (path, size, mtime, ctime, inode): files nothing happened to are not read again; a touched
    file is read again and gives the same digest, an edited one another (ctime changes on every write and
    cannot be set back, so even an edit that keeps the size and restores the mtime is read again)."""
    stats = []
    for name, path in files:
        try:
            stat = path.stat()
        except OSError as error:
            raise ConfigError(f"{path} cannot be read ({error.strerror or error})") from None
        stats.append([name, str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino])
    key = hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:32]
    entry = cache_dir / FINGERPRINT_DIR / key
    try:
        cached = entry.read_text().strip()
        if len(cached) == 16 and all(c in "0123456789abcdef" for c in cached):
            return cached
    except OSError:
        pass
    contents = [[name, stat[2], _sha256(path)] for (name, path), stat in zip(files, stats)]
    digest = hashlib.sha256(json.dumps(contents).encode()).hexdigest()[:16]
    _remember(entry, digest)
    return digest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise ConfigError(f"{path} cannot be read ({error.strerror or error})") from None
    return digest.hexdigest()


def _remember(entry: Path, digest: str) -> None:
    """Store a fingerprint atomically; a cache that cannot be written only costs hashing again next time."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.name, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(digest)
        os.replace(tmp, entry)
    except OSError as error:
        log.debug("data fingerprint not cached at %s (%s)", entry, error)


# --- splits and checks -------------------------------------------------------------------------------------

def split_off_test(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, data: str):
    """A random `fraction` of the samples as the test set, drawn with the data's seed."""
    n_test = int(round(len(x) * fraction))
    if not 1 <= n_test < len(x):
        raise ConfigError(f"data={data}: data.test_fraction={fraction} of {len(x)} samples leaves no training or no "
                          f"test sample; choose a fraction in (0, 1) that leaves at least one of each")
    order = np.random.default_rng([seed, 0]).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def check_fraction(fraction: float) -> None:
    if fraction is None or not 0 < fraction < 1:
        raise ConfigError(f"data.test_fraction={fraction} must be in (0, 1)")


def labels_as_indices(y: np.ndarray, where: str) -> np.ndarray:
    """Integer class indices >= 0 (integral floats accepted), one per sample."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ConfigError(f"{where}: labels must be one integer per sample (shape [N]), got shape {list(y.shape)}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ConfigError(f"{where}: labels must be integers (class indices 0..num_classes-1)")
    elif y.dtype.kind not in "iub":
        raise ConfigError(f"{where}: labels must be integers (class indices 0..num_classes-1), got {y.dtype}")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise ConfigError(f"{where}: labels must be class indices 0..num_classes-1, found {int(y.min())}")
    return y


def check_two_classes(y_train, source: str, classes: Optional[List[str]] = None) -> None:
    """A training set whose labels are all one class cannot train a classifier, whatever form it came in (an
    .npz, a CSV's indices or names, image folders): refused by every data set that makes its splits here."""
    distinct = np.unique(np.asarray(y_train))
    if len(distinct) < 2:
        only = repr(classes[int(distinct[0])]) if classes and len(distinct) else str(int(distinct[0]))
        raise ConfigError(f"{source}: every training label is class {only}; "
                          f"classification needs training samples of at least 2 classes")


def make_splits(cfg: FileDataConfig, x_train, y_train, x_test, y_test, *, source: str,
                num_classes: Optional[int] = None, classes: Optional[List[str]] = None, val=None) -> Splits:
    """The checked, optionally reshaped and subsampled, standardized splits.

    `num_classes` is the number of classes the files define (a known data set's, the folders'); None infers it
    from the labels (largest + 1). `source` names the files in messages. `val`: the (inputs, labels) of a
    validation split the files ship, checked and standardized like the test split (never subsampled).
    """
    import torch  # torch: imported when data are loaded, not when a config is checked

    from normbench.data._tensors import apply_standardization, as_inputs, standardize

    y_train, y_test = labels_as_indices(y_train, source), labels_as_indices(y_test, source)
    named = [("training", x_train, y_train), ("test", x_test, y_test)]
    if val is not None:
        val = (val[0], labels_as_indices(val[1], source))
        named.append(("validation", *val))
    for split, x, y in named:
        if len(x) != len(y):
            raise ConfigError(f"{source}: {len(x)} {split} inputs but {len(y)} labels; each input needs one label")
        if len(x) == 0:
            raise ConfigError(f"{source}: no {split} samples")
        if x.shape[1:] != x_train.shape[1:]:
            raise ConfigError(f"{source}: training samples of shape {list(x_train.shape[1:])} but {split} samples of "
                              f"shape {list(x.shape[1:])}")
    top = int(max(y.max() for _, _, y in named))
    if top >= MAX_CLASSES and cfg.num_classes is None and num_classes is None:
        raise ConfigError(f"{source}: labels span 0..{top}: {top + 1} classes, more than the {MAX_CLASSES} normbench "
                          f"trains a classifier for; labels must be class indices 0..num_classes-1")
    found = num_classes if num_classes is not None else top + 1
    declared = cfg.num_classes
    if top >= (declared or found):
        limit = declared or found
        raise ConfigError(f"{source}: labels span 0..{top}, outside 0..{limit - 1} "
                          f"({'data.num_classes' if declared else 'the classes of ' + cfg.name}={limit})")
    check_two_classes(y_train, source, classes)
    shape = _sample_shape(cfg, x_train.shape[1:], source)
    x_train, y_train = _subset(x_train, y_train, cfg.num_train, [cfg.seed, 1], "num_train", source)
    x_test, y_test = _subset(x_test, y_test, cfg.num_test, [cfg.seed, 2], "num_test", source)
    x_train, x_test = as_inputs(x_train, shape, source), as_inputs(x_test, shape, source)
    x_val = as_inputs(val[0], shape, source) if val is not None else None
    standardization = None
    if cfg.standardize:
        x_train, x_test, standardization = standardize(x_train, x_test)
        if x_val is not None:
            x_val = apply_standardization(x_val, standardization)
    return Splits(x_train, torch.as_tensor(y_train), x_test, torch.as_tensor(y_test), num_classes=declared or found,
                  standardization=standardization, classes=classes, x_val=x_val,
                  y_val=torch.as_tensor(val[1]) if val is not None else None)


def _sample_shape(cfg: FileDataConfig, natural: tuple, source: str) -> tuple:
    if not cfg.shape:
        if len(natural) == 0:
            raise ConfigError(f"{source}: each sample is a single number; inputs need at least one feature axis")
        return tuple(natural)
    if int(np.prod(cfg.shape)) != int(np.prod(natural)):
        raise ConfigError(f"data.shape={list(cfg.shape)} does not match {source}'s samples of shape {list(natural)} "
                          f"({int(np.prod(natural))} values); leave data.shape=[] to use the files' own shape")
    return tuple(cfg.shape)


def _subset(x, y, count: Optional[int], seed, key: str, source: str):
    if count is None:
        return x, y
    if count > len(x):
        raise ConfigError(f"data.{key}={count} exceeds the {len(x)} samples of {source}; use at most {len(x)} "
                          f"(or null for all)")
    chosen = np.sort(np.random.default_rng(seed).permutation(len(x))[:count])
    return x[chosen], y[chosen]
