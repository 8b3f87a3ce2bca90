"""Weights & Biases (`pip install normbench[wandb]`). One W&B run per attempt of a normbench run, named after
its run directory and grouped by its group hash (its seeds side by side); the config holds the run's
hyperparameters. With WANDB_MODE=offline (or logger.mode=offline) nothing leaves the machine: the run is
written under `logger.dir` (default: the run directory) and `wandb sync` uploads it later.

The run's state follows its status: exit code 0 for a completed run (W&B: finished), 1 for a diverged or
failed one (W&B: failed), 130 for an interrupted one; `summary.status` holds normbench's own word.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

from normbench.config.options import LoggerConfig, execution_only
from normbench.errors import ConfigError
from normbench.rundir.contract import COMPLETED, INTERRUPTED
from normbench.trackers._registry import TrackedRun, register_logger

MODES = ("online", "offline", "disabled")
_EXIT_CODES = {COMPLETED: 0, INTERRUPTED: 130}  # any other status: 1


@dataclass
class WandbConfig(LoggerConfig):
    project: str = execution_only("normbench")
    entity: Optional[str] = execution_only(None)  # null: the account's default entity
    mode: Optional[str] = execution_only(None)  # online | offline | disabled; null: WANDB_MODE, else wandb's default
    dir: Optional[str] = execution_only(None)  # null: the run directory

    def check(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"logger.mode={self.mode} is not allowed; choose one of: {', '.join(MODES)} (or null)")


class WandbSink:
    def __init__(self, cfg: WandbConfig, run: TrackedRun):
        import wandb

        self.run = wandb.init(
            project=cfg.project, entity=cfg.entity, mode=cfg.mode, dir=str(cfg.dir or run.run_dir),
            name=run.name, group=run.group_hash, job_type=run.experiment, config=run.hparams,
            tags=[run.experiment], reinit="create_new",  # several runs in one process: a sweep's joblib worker
            settings=wandb.Settings(silent=True, console="off"),
        )
        self.run.summary.update({"config_hash": run.config_hash, "resumed_from_step": run.resumed_from})

    def scalars(self, points) -> None:
        by_step = defaultdict(dict)
        for step, tag, value, _ in points:
            by_step[step][tag] = value
        for step in sorted(by_step):  # W&B drops a step lower than one it has already seen
            self.run.log(by_step[step], step=step)

    def finish(self, status: str, metrics: dict, step: int) -> None:
        self.run.summary.update({**metrics, "status": status})
        self.run.finish(exit_code=_EXIT_CODES.get(status, 1))

    def flush(self) -> None:
        """W&B streams what it is given to its own process: nothing is held back here."""

    def close(self) -> None:
        self.run.finish()  # a no-op once finish() has run; ends the run if the trainer never got to finish


@register_logger("wandb", config=WandbConfig, requires="wandb")
def build(cfg: WandbConfig, run: TrackedRun) -> WandbSink:
    return WandbSink(cfg, run)
