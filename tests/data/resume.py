"""A run interrupted right after its first checkpoint, then resumed: what tests of resumability share."""

import pandas as pd
import pytest

from normbench.engine import run as run_module
from normbench.engine.run import run_experiment


def interrupt_after_first_checkpoint(cfg, run_dir, monkeypatch) -> None:
    real_save = run_module.save_checkpoint

    def save_then_stop(*args):
        real_save(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, run_dir)
    monkeypatch.setattr(run_module, "save_checkpoint", real_save)


def train_losses(run_dir) -> list[float]:
    """Every step's train loss, in step order."""
    rows = pd.read_csv(run_dir / "metrics.csv")
    rows = rows[(rows.split == "train") & (rows.metric == "loss")].sort_values("step")
    return rows.value.tolist()


def evaluations(run_dir) -> list[float]:
    rows = pd.read_csv(run_dir / "metrics.csv")
    return rows[rows.split == "test"].sort_values(["step", "metric"]).value.tolist()
