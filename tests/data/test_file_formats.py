"""Each file format read as it is written in the wild (tiny files made here): shapes, labels, classes, and
inputs standardized with the training set's statistics."""

import numpy as np
import pytest
import torch

from normbench.config.validate import validate
from normbench.data import load_data

from . import make_files

# What the files hold, all of it: the validation split carved from it is tested in test_validation_split.py.
WHOLE = ("data.val_fraction=0", "objective=final_test_acc")


def _load(make_cfg, *overrides):
    options = validate(make_cfg(*WHOLE, *overrides))
    return options.data, load_data(options.data)


def _standardized(splits, axis):
    x = splits.x_train
    dims = (0,) if x.dim() == 2 else (0, *range(2, x.dim()))
    assert torch.allclose(x.mean(dim=dims), torch.zeros(x.shape[1]), atol=1e-4)
    std = x.std(dim=dims, correction=0)
    assert torch.allclose(std, torch.ones_like(std), atol=1e-3)
    stats = splits.standardization
    assert stats["axis"] == axis and len(stats["mean"]) == len(stats["std"]) == x.shape[1]


def test_npz_with_both_splits(make_cfg, tmp_path):
    path = make_files.npz(tmp_path / "d.npz")
    cfg, splits = _load(make_cfg, "data=npz", f"data.path={path}")
    stored = np.load(path)
    assert splits.x_train.shape == (48, 6) and splits.x_test.shape == (16, 6)
    assert splits.y_train.tolist() == stored["y_train"].tolist() and splits.y_train.dtype == torch.int64
    assert cfg.shape == [6] and cfg.num_classes == 3  # learned from the file: the model's InputSpec sees them
    _standardized(splits, "feature")
    mean, std = np.array(splits.standardization["mean"]), np.array(splits.standardization["std"])
    assert np.allclose(mean, stored["x_train"].mean(0), atol=1e-5)
    assert np.allclose(std, stored["x_train"].std(0), atol=1e-5)
    expected_test = (stored["x_test"] - mean) / std  # the test set with the training set's statistics
    assert np.allclose(splits.x_test.numpy(), expected_test, atol=1e-4)


def test_npz_x_y_is_split_with_the_data_seed_and_may_be_reshaped_and_subsampled(make_cfg, tmp_path):
    path = make_files.npz(tmp_path / "d.npz", split=False)
    base = ["data=npz", f"data.path={path}", "data.test_fraction=0.25"]
    _, a = _load(make_cfg, *base)
    _, b = _load(make_cfg, *base)
    _, c = _load(make_cfg, *base, "data.seed=7")
    assert len(a.x_train) == 48 and len(a.x_test) == 16
    assert torch.equal(a.x_test, b.x_test) and not torch.equal(a.x_test, c.x_test)
    cfg, d = _load(make_cfg, *base, "data.shape=[2,3]", "data.num_train=20", "data.num_test=5", "data.num_classes=4",
                   "data.standardize=false")
    assert d.x_train.shape == (20, 2, 3) and d.x_test.shape == (5, 2, 3) and cfg.num_classes == 4
    assert d.standardization is None and float(d.x_train.mean()) > 1  # raw values, mean about 3


def test_csv_with_a_test_fraction_and_with_a_test_file(make_cfg, tmp_path):
    path = make_files.csv(tmp_path / "train.csv")
    cfg, splits = _load(make_cfg, "data=csv", f"data.path={path}", "data.label=kind")
    assert splits.x_train.shape == (48, 4) and splits.x_test.shape == (12, 4) and cfg.num_classes == 3
    _standardized(splits, "feature")
    test = make_files.csv(tmp_path / "test.csv", n=9, names=True, seed=1)
    named = make_files.csv(tmp_path / "named.csv", names=True)
    cfg, splits = _load(make_cfg, "data=csv", f"data.path={named}", f"data.test_path={test}", "data.label=kind")
    assert splits.x_train.shape == (60, 4) and splits.x_test.shape == (9, 4)
    assert splits.classes == ["setosa", "versicolor", "virginica"] and splits.y_test.tolist() == [0, 1, 2] * 3


@pytest.mark.parametrize("mode, test, channels", [("RGB", "test", 3), ("L", "val", 1)])
def test_image_folder(make_cfg, tmp_path, mode, test, channels):
    root = make_files.image_folder(tmp_path / "images", mode=mode, test=test)
    cfg, splits = _load(make_cfg, "data=image_folder", f"data.root={root}")
    assert splits.x_train.shape == (12, channels, 8, 10) and splits.x_test.shape == (6, channels, 8, 10)
    assert splits.classes == ["cat", "dog", "emu"] and cfg.num_classes == 3
    assert splits.y_train.tolist() == [0] * 4 + [1] * 4 + [2] * 4  # folders in sorted order
    _standardized(splits, "channel")
    _, resized = _load(make_cfg, "data=image_folder", f"data.root={root}", "data.image_size=5")
    assert resized.x_train.shape == (12, channels, 5, 5)


def test_cifar10_and_cifar100_python_batches(make_cfg, tmp_path):
    cfg, splits = _load(make_cfg, "data=cifar10", f"data.root={make_files.cifar10(tmp_path / 'c10')}")
    assert splits.x_train.shape == (30, 3, 32, 32) and splits.x_test.shape == (12, 3, 32, 32)
    assert cfg.num_classes == 10 and cfg.shape == [3, 32, 32]
    _standardized(splits, "channel")
    root = make_files.cifar100(tmp_path / "c100")
    cfg, splits = _load(make_cfg, "data=cifar100", f"data.root={root}")
    assert splits.x_train.shape == (30, 3, 32, 32) and cfg.num_classes == 100
    import pickle

    with open(root / "train", "rb") as handle:
        assert splits.y_train.tolist() == pickle.load(handle)["fine_labels"]


@pytest.mark.parametrize("name, gz", [("mnist", True), ("fashion_mnist", False)])
def test_idx_files_gzipped_or_not(make_cfg, tmp_path, name, gz):
    root = make_files.mnist(tmp_path / "idx", gz=gz)
    cfg, splits = _load(make_cfg, f"data={name}", f"data.root={root}", "data.num_train=32")
    assert splits.x_train.shape == (32, 1, 28, 28) and splits.x_test.shape == (16, 1, 28, 28)
    assert cfg.num_classes == 10 and splits.y_test.tolist() == [i % 10 for i in range(16)]
    _standardized(splits, "channel")


def test_idx_files_where_torchvision_keeps_them(make_cfg, tmp_path):
    make_files.mnist(tmp_path / "FashionMNIST" / "raw")
    _, splits = _load(make_cfg, "data=fashion_mnist", f"data.root={tmp_path}")
    assert splits.x_train.shape == (40, 1, 28, 28)
