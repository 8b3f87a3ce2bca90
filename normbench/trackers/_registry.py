"""Experiment trackers by name. A tracker module registers `build(cfg, run) -> Sink | None` with
`register_logger(name, config=..., requires="package")`: `cfg` an instance of its schema (a `LoggerConfig`
subclass), `run` the run being tracked (`TrackedRun`), the result one more sink of the run's MetricsLog
(normbench/rundir/metrics_log.py), which hands every sink the same scalars, hyperparameters, final metrics
and status at the same points: there is no second logging path in the trainer.

A tracker's library is an optional extra (`pip install normbench[wandb]`): it is imported only when the
tracker is built, and a run asking for a tracker whose library is missing is refused in one line before
anything is written (`tracker_problem`, called by normbench/config/validate.py).
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from normbench.config.options import LoggerConfig
from normbench.config.registry import Registry

TRACKERS: Registry[Callable] = Registry("logger", "normbench.trackers", LoggerConfig)


@dataclass(frozen=True)
class TrackedRun:
    """What a tracker is told about the run it shows."""

    run_dir: Path
    results_dir: Path
    name: str  # the run directory's name
    experiment: str
    config_hash: str
    group_hash: str  # the same for every seed of one configuration: a tracker's run group
    hparams: dict  # flat, each value a bool, number or string (normbench.rundir.identity.run_hparams)
    resumed_from: int | None = None  # the checkpoint step a resumed attempt starts from


def register_logger(name: str, config: type[LoggerConfig] | None = None, requires: str | None = None):
    """Register a tracker; `requires` names the module its library provides (checked before a run starts)."""
    return TRACKERS.register(name, config, traits=requires)


def tracker_problem(cfg: LoggerConfig) -> str | None:
    """Why the tracker `cfg` cannot be used here (its optional library is not installed), None if it can."""
    requires = TRACKERS.get(cfg.name).traits
    if requires is None or importlib.util.find_spec(requires) is not None:
        return None
    return f"logger={cfg.name} needs the {requires} package, which is not installed: pip install normbench[{cfg.name}]"


def create_tracker(cfg: LoggerConfig, run: TrackedRun):
    """The sink of the selected tracker for `run`, or None (logger=none)."""
    return TRACKERS.get(cfg.name).build(cfg, run)
