"""MNIST-1D (Greydanus 2020): 1-D digit templates, padded, shifted, sheared and noised into length-40
sequences. Generated offline with the mnist1d package (`make_dataset` reproduces the published data
exactly; `get_dataset` would try a download first) and cached on disk."""

from normbench.data._registry import as_splits, register_dataset
from normbench.data.cache import cache_root, cached_arrays
from normbench.errors import ConfigError


def _generate(seed: int, num_samples: int, train_split: float) -> dict:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed, args.num_samples, args.train_split = seed, num_samples, train_split
    data = make_dataset(args)
    return {key: data[key] for key in ("x", "y", "x_test", "y_test")}


@register_dataset("mnist1d")
def load(cfg):
    if cfg.num_train < 1 or cfg.num_test < 1:
        raise ConfigError(f"data.num_train and data.num_test must be positive (got {cfg.num_train}, {cfg.num_test})")
    total = cfg.num_train + cfg.num_test
    params = {"seed": cfg.seed, "num_samples": total, "train_split": cfg.num_train / total}
    arrays = cached_arrays(cache_root(cfg.cache_dir), "mnist1d", params, lambda: _generate(**params))
    return as_splits(arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"], cfg.shape)
