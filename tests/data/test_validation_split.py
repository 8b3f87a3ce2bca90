"""The validation split of every registered data set: carved once, after the data set loads, from its training
examples (disjoint, stratified by class, the same whatever the run's seed), or shipped by the data set (an image
folder's val/ beside test/), or none at data.val_fraction=0."""

import pytest
import torch

from normbench.config.validate import validate
from normbench.data import DATASETS, load_data
from normbench.data.pipeline.validation import carve_indices
from normbench.errors import ConfigError

from . import make_files

FRACTION = 0.1


def _tiny(name: str, root) -> list[str]:
    """Overrides that make data set `name` tiny (its files made under `root`)."""
    files = {
        "npz": lambda: [f"data.path={make_files.npz(root / 'd.npz', n=80)}"],
        "csv": lambda: [f"data.path={make_files.csv(root / 'd.csv', n=90)}", "data.label=kind"],
        "image_folder": lambda: [f"data.root={make_files.image_folder(root / 'images', per_class=10)}"],
        "cifar10": lambda: [f"data.root={make_files.cifar10(root / 'c10', per_batch=20)}"],
        "cifar100": lambda: [f"data.root={make_files.cifar100(root / 'c100', n=300)}"],
        "mnist": lambda: [f"data.root={make_files.mnist(root / 'idx')}"],
        "fashion_mnist": lambda: [f"data.root={make_files.mnist(root / 'idx', gz=False)}"],
        "mnist1d": lambda: ["data.num_train=200", "data.num_test=50"],
        "synthetic": lambda: ["data.num_train=200", "data.num_test=50", "data.shape=[8]"],
        "digits": lambda: [],
    }
    return [f"data={name}", *files[name]()]


def _load(make_cfg, *overrides):
    return load_data(validate(make_cfg(*overrides)).data)


def _raw(make_cfg, *overrides):
    """The data set's own splits, as its loader returns them (before any validation split is made)."""
    options = validate(make_cfg(*overrides))
    return DATASETS.get(options.data.name).build(options.data)


def test_every_registered_data_set_is_covered():
    from normbench.config.plugins import load_options

    load_options(None)
    assert set(DATASETS.names()) == {"npz", "csv", "image_folder", "cifar10", "cifar100", "mnist", "fashion_mnist",
                                     "mnist1d", "synthetic", "digits"}


@pytest.mark.parametrize("name", ["npz", "csv", "image_folder", "cifar10", "cifar100", "mnist", "fashion_mnist",
                                  "mnist1d", "synthetic", "digits"])
def test_every_data_set_gets_a_stratified_validation_split_carved_from_its_training_data(make_cfg, tmp_path, name):
    overrides = _tiny(name, tmp_path)
    raw = _raw(make_cfg, *overrides)
    splits = _load(make_cfg, *overrides)
    assert splits.val_source == "carved"
    train, val = carve_indices(raw.y_train, FRACTION)
    # disjoint by index, together every training example, and exactly the rows the loader gave at those indices
    assert not set(train.tolist()) & set(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(len(raw.y_train)))
    assert torch.equal(splits.x_val, raw.x_train[val]) and torch.equal(splits.y_val, raw.y_train[val])
    assert torch.equal(splits.x_train, raw.x_train[train]) and torch.equal(splits.y_train, raw.y_train[train])
    assert torch.equal(splits.x_test, raw.x_test)
    assert len(val) == round(FRACTION * len(raw.y_train))
    # stratified: each class gives its share of the validation split, within one example
    for label in raw.y_train.unique():
        count = int((raw.y_train == label).sum())
        held = int((splits.y_val == label).sum())
        assert abs(held - FRACTION * count) <= 1, (name, int(label), held, count)
        assert held < count  # every class keeps training examples
    # the same examples whatever the run's seed
    other = _load(make_cfg, *overrides, "seed=7")
    assert torch.equal(other.x_val, splits.x_val) and torch.equal(other.y_val, splits.y_val)
    # 0: no validation split, every training example trains
    none = _load(make_cfg, *overrides, "data.val_fraction=0", "objective=final_test_acc")
    assert none.x_val is None and none.y_val is None and none.val_source == "none"
    assert torch.equal(none.x_train, raw.x_train)


def test_an_image_folder_with_val_beside_test_uses_its_own_validation_split(make_cfg, tmp_path):
    root = make_files.image_folder(tmp_path / "images", per_class=10)
    without_val = validate(make_cfg("data=image_folder", f"data.root={root}")).data.fingerprint()
    make_files.image_folder(root, per_class=10, test="val")  # the same train/, and val/ beside test/
    splits = _load(make_cfg, "data=image_folder", f"data.root={root}")
    assert splits.val_source == "shipped"
    assert len(splits.y_train) == 30 and len(splits.y_val) == 6 and len(splits.y_test) == 6
    assert splits.y_val.tolist() == [0, 0, 1, 1, 2, 2]
    # standardized with the training set's statistics, like the test split
    mean = torch.tensor(splits.standardization["mean"]).reshape(1, -1, 1, 1)
    std = torch.tensor(splits.standardization["std"]).reshape(1, -1, 1, 1)
    assert splits.x_val.abs().max() < 10 and torch.all(splits.x_val * std + mean >= -1e-4)
    # its images are part of the data's fingerprint where they are read, and only there
    off = ("data=image_folder", f"data.root={root}", "data.val_fraction=0", "objective=final_test_acc")
    assert validate(make_cfg(*off)).data.fingerprint() == without_val
    assert validate(make_cfg("data=image_folder", f"data.root={root}")).data.fingerprint() != without_val
    assert _load(make_cfg, *off).x_val is None


@pytest.mark.parametrize("fraction, problem", [("1.0", "must be in [0, 1)"), ("-0.1", "must be in [0, 1)"),
                                               ("nan", "must be in [0, 1)"),
                                               ("0.001", "holds out none")])
def test_a_validation_fraction_that_cannot_work_is_one_line(make_cfg, fraction, problem):
    with pytest.raises(ConfigError, match=problem.replace("[", r"\[").replace(")", r"\)")) as error:
        _load(make_cfg, "data=synthetic", "data.num_train=50", "data.shape=[8]", f"data.val_fraction={fraction}")
    assert "\n" not in str(error.value) and "data.val_fraction" in str(error.value)


def test_every_class_keeps_a_training_example():
    labels = torch.tensor([0] * 9 + [1] * 9 + [2])
    train, val = carve_indices(labels, 0.1)  # 1.9 held out: 2, from the classes that can spare one
    assert 18 in train.tolist() and len(val) == 2 and sorted(labels[val].tolist()) == [0, 1]
    train, val = carve_indices(labels, 0.99)
    assert sorted(labels[train].tolist()) == [0, 1, 2]
