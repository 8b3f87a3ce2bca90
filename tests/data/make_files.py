"""Tiny files in each real format the file data sets read, made in a test's temporary directory."""

import gzip
import pickle
from pathlib import Path

import numpy as np


def npz(path: Path, *, split=True, n=64, features=6, classes=3, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(3.0, 2.0, size=(n, features)), rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)  # every class present
    if split:
        np.savez(path, x_train=x[: n * 3 // 4], y_train=y[: n * 3 // 4], x_test=x[n * 3 // 4:], y_test=y[n * 3 // 4:])
    else:
        np.savez(path, x=x, y=y)
    return path


def csv(path: Path, *, n=60, names=False, seed=0) -> Path:
    import pandas as pd

    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.normal(-1.0, 5.0, size=(n, 4)), columns=["a", "b", "c", "d"])
    labels = np.arange(n) % 3
    table["kind"] = np.array(["setosa", "versicolor", "virginica"])[labels] if names else labels
    table.to_csv(path, index=False)
    return path


def image_folder(root: Path, *, classes=("cat", "dog", "emu"), per_class=4, size=(10, 8), mode="RGB",
                 test="test", odd_size=False) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), (test, 2)):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                channels = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
                pixels = rng.integers(0, 256, channels, dtype=np.uint8)
                suffix = ".png" if i % 2 == 0 else ".jpg"
                Image.fromarray(pixels, mode=None).convert(mode).save(folder / f"{i}{suffix}")
    if odd_size:
        Image.fromarray(np.zeros((5, 5, 3), dtype=np.uint8)).save(root / "train" / classes[0] / "odd.png")
    return root


def _cifar_batch(path: Path, n: int, labels_key: str, classes: int, rng, protocol=2) -> None:
    labels = [int(v) for v in rng.integers(0, classes, n)]
    batch = {"batch_label": "training batch", labels_key: labels,
             "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "filenames": [f"img_{i}.png" for i in range(n)]}
    if labels_key == "fine_labels":
        batch["coarse_labels"] = [v // 5 for v in labels]
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=protocol)


def cifar10(root: Path, *, per_batch=6) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(1, 6):
        _cifar_batch(folder / f"data_batch_{i}", per_batch, "labels", 10, rng)
    _cifar_batch(folder / "test_batch", 2 * per_batch, "labels", 10, rng)
    return root


def cifar100(root: Path, *, n=30) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    _cifar_batch(root / "train", n, "fine_labels", 100, rng)
    _cifar_batch(root / "test", n // 2, "fine_labels", 100, rng)
    return root


class _RunsCode:
    """Pickles into a call of print (harmless; the test checks it is never made): what a hostile file does."""

    def __reduce__(self):
        return (print, ("a data file ran code",))


def hostile_cifar10(root: Path) -> Path:
    cifar10(root)
    with open(root / "cifar-10-batches-py" / "data_batch_3", "wb") as handle:
        pickle.dump({"data": _RunsCode(), "labels": [0]}, handle, protocol=2)
    return root


def _idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(f"{path}.gz", "wb") as handle:
            handle.write(payload)
    else:
        Path(path).write_bytes(payload)


def mnist(root: Path, *, gz=True, n_train=40, n_test=16, labels_up_to=10) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    _idx(root / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)), gz)
    _idx(root / "train-labels-idx1-ubyte", np.arange(n_train) % labels_up_to, gz)
    _idx(root / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)), gz)
    _idx(root / "t10k-labels-idx1-ubyte", np.arange(n_test) % 10, gz)
    return root
