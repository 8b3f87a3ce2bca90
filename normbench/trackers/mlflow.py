"""MLflow (`pip install normbench[mlflow]`). One MLflow run per attempt of a normbench run, in the experiment
named after the study, with the run's hyperparameters as params and its scalars as metrics (`train/loss`,
`hparam/final_test_acc`, ... at their steps). Written through `MlflowClient` (no global active run, so
parallel jobs never share one).

Store: any tracking URI (`logger.tracking_uri=http://host:5000`, `file:/path/mlruns`, ...); by default
`sqlite:///<results_dir>/mlflow.db`, one local store for every run of the results directory (MLflow 3 keeps
its `./mlruns` file store in maintenance mode and refuses it unless MLFLOW_ALLOW_FILE_STORE=true). View it
with `mlflow ui --backend-store-uri sqlite:///results/mlflow.db`.

The run's state follows its status: FINISHED for a completed run, FAILED for a diverged or failed one, KILLED
for an interrupted one; the tag `normbench.status` holds normbench's own word.
"""

import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from normbench.config.options import LoggerConfig, execution_only
from normbench.rundir.contract import COMPLETED, INTERRUPTED
from normbench.trackers._registry import TrackedRun, register_logger

_RUN_STATES = {COMPLETED: "FINISHED", INTERRUPTED: "KILLED"}  # any other status: FAILED
_BATCH = 1000  # MLflow takes at most 1000 metrics and 100 params in one log_batch
_PARAMS_BATCH = 100
DEFAULT_STORE = "mlflow.db"


@dataclass
class MlflowConfig(LoggerConfig):
    tracking_uri: Optional[str] = execution_only(None)  # null: sqlite:///<results_dir>/mlflow.db
    experiment_name: Optional[str] = execution_only(None)  # null: the run's experiment (e.g. bn_vs_ln)


def default_tracking_uri(results_dir: Path) -> str:
    return f"sqlite:///{Path(results_dir).absolute() / DEFAULT_STORE}"


class MlflowSink:
    def __init__(self, cfg: MlflowConfig, run: TrackedRun):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        Path(run.results_dir).mkdir(parents=True, exist_ok=True)  # the default store and the lock live there
        uri = cfg.tracking_uri or default_tracking_uri(run.results_dir)
        name = cfg.experiment_name or run.experiment
        # Parallel jobs of a sweep start at once: one at a time creates the store's tables and the experiment.
        with open(Path(run.results_dir) / ".mlflow.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.client = MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(name)
            experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        tags = {"normbench.group_hash": run.group_hash, "normbench.config_hash": run.config_hash,
                "normbench.run_dir": str(run.run_dir)}
        if run.resumed_from:
            tags["normbench.resumed_from_step"] = str(run.resumed_from)
        self.run_id = self.client.create_run(experiment_id, run_name=run.name, tags=tags).info.run_id
        params = [Param(key, str(value)) for key, value in run.hparams.items()]
        for start in range(0, len(params), _PARAMS_BATCH):
            self.client.log_batch(self.run_id, params=params[start:start + _PARAMS_BATCH])

    def scalars(self, points) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(tag, value, int(wall_time * 1000), step) for step, tag, value, wall_time in points]
        for start in range(0, len(metrics), _BATCH):
            self.client.log_batch(self.run_id, metrics=metrics[start:start + _BATCH])

    def finish(self, status: str, metrics: dict, step: int) -> None:
        self.client.set_tag(self.run_id, "normbench.status", status)
        self.client.set_terminated(self.run_id, _RUN_STATES.get(status, "FAILED"))
        self.run_id = None

    def flush(self) -> None:
        """Every log_batch is written to the store when it is made: nothing is held back here."""

    def close(self) -> None:
        if self.run_id is not None:  # the trainer never got to finish: the run ended without a status
            self.client.set_terminated(self.run_id, "FAILED")


@register_logger("mlflow", config=MlflowConfig, requires="mlflow")
def build(cfg: MlflowConfig, run: TrackedRun) -> MlflowSink:
    return MlflowSink(cfg, run)
