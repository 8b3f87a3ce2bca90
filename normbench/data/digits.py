"""scikit-learn's bundled 8x8 handwritten digits (1797 images), pixels scaled from 0..16 to [0, 1], with a
stratified train/test split fixed by data.seed."""

from normbench.data._registry import as_splits, register_dataset
from normbench.errors import ConfigError


@register_dataset("digits")
def load(cfg):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    if cfg.num_train < 1 or cfg.num_test < 1 or cfg.num_train + cfg.num_test > len(digits.target):
        raise ConfigError(
            f"data.num_train + data.num_test must be positive and at most {len(digits.target)} for data=digits "
            f"(got {cfg.num_train} + {cfg.num_test})"
        )
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, train_size=cfg.num_train, test_size=cfg.num_test,
        random_state=cfg.seed, stratify=digits.target,
    )
    return as_splits(x_train, y_train, x_test, y_test, cfg.shape)
