import numpy as np
import pytest
import torch

from normbench.data import load_data
from normbench.data import mnist1d as mnist1d_module
from normbench.data.pipeline.batches import EpochBatches
from normbench.errors import ConfigError


def test_mnist1d_is_the_published_dataset_and_is_cached(make_cfg, monkeypatch, tmp_path):
    cfg = make_cfg("data=mnist1d", f"data.cache_dir={tmp_path}", "data.val_fraction=0")  # all it generates
    splits = load_data(cfg.data)
    assert splits.x_train.shape == (4000, 1, 40) and splits.x_test.shape == (1000, 1, 40)
    from mnist1d.data import get_dataset_args, make_dataset

    reference = make_dataset(get_dataset_args())  # the package's own generator, default arguments
    assert np.allclose(splits.x_train[:, 0].numpy(), reference["x"], atol=1e-6)
    assert np.array_equal(splits.y_test.numpy(), reference["y_test"])
    monkeypatch.setattr(mnist1d_module, "_generate", lambda **_: pytest.fail("regenerated despite the cache"))
    again = load_data(cfg.data)
    assert torch.equal(again.x_train, splits.x_train)


def test_digits_split_is_fixed_and_scaled(make_cfg):
    cfg = make_cfg("data=digits", "data.val_fraction=0")
    a, b = load_data(cfg.data), load_data(cfg.data)
    assert a.x_train.shape == (1437, 1, 8, 8) and a.x_test.shape == (360, 1, 8, 8)
    assert torch.equal(a.x_test, b.x_test)
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1
    assert set(a.y_test.tolist()) == set(range(10))  # stratified


def test_synthetic_is_gaussian_with_random_labels(make_cfg):
    cfg = make_cfg("data=synthetic", "data.val_fraction=0")
    s = load_data(cfg.data)
    assert s.x_train.shape == (1000, 128) and s.x_test.shape == (200, 128)
    assert abs(float(s.x_train.mean())) < 0.02 and abs(float(s.x_train.std()) - 1) < 0.02
    assert s.y_train.min() >= 0 and s.y_train.max() <= 9


def test_declared_shape_must_match_the_data(make_cfg):
    with pytest.raises(ConfigError, match=r"data.shape=\[1, 41\] does not match"):
        load_data(make_cfg("data=mnist1d", "data.shape=[1,41]").data)


def test_epoch_batches_are_full_and_cover_each_epoch_once():
    x = torch.arange(10).float().unsqueeze(1)
    batches = EpochBatches(x, torch.arange(10), 3, torch.Generator().manual_seed(0))
    epoch = [batches.next()[1] for _ in range(3)]  # 10 // 3 full batches, one sample dropped
    assert all(len(b) == 3 for b in epoch)
    seen = torch.cat(epoch)
    assert len(set(seen.tolist())) == 9
    assert batches.next()[1].shape == (3,)  # a new epoch begins, still full


def test_batch_larger_than_the_training_set_is_refused():
    with pytest.raises(ConfigError, match="batch_size=11 exceeds the 10 training samples"):
        EpochBatches(torch.zeros(10, 1), torch.zeros(10), 11, torch.Generator())
