"""`normbench train`: the Hydra app. Thin: compose and check the config, hand it to `run.run_experiment`.

Torch and everything that imports it load inside the task, so `--help`, `--cfg` and tab completion stay fast.
In a sweep (-m), a job's failure is recorded and the sweep goes on; `main` exits non-zero afterwards if
any job failed or was invalid (normbench.launch.tally keeps the tally).
"""

import logging
import math
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from normbench.launch import tally as sweep
from normbench.config.schema import register_configs
from normbench.errors import ConfigError
from normbench.rundir.identity import run_name
from normbench.launch.job_resources import fit_job_to_launcher
from normbench.config.paths import config_dir
from normbench.config.preflight import command_line_error

log = logging.getLogger("normbench")


def _run_name_resolver(*, _root_: DictConfig) -> str:
    return run_name(_root_, _root_.hydra.overrides.task)


def _div(numerator, denominator) -> int:
    """`${nb_div:a,b}`: a // b, at least 1. E.g. a budget of training samples as steps: samples // batch_size."""
    return max(1, int(numerator) // int(denominator))


LR_SCALING = {"linear": 1.0, "sqrt": 0.5, "none": 0.0}


def _scaled_lr(rule, base_lr, batch_size, base_batch_size) -> float:
    """`${nb_scaled_lr:rule,base_lr,batch_size,base_batch_size}`: base_lr x (batch_size / base_batch_size)^p,
    p = 1 for `linear` (Goyal et al. 2017; Wu & He 2018's 0.1 x N/32), 0.5 for `sqrt` (Adam: Malladi et al.
    2022), 0 for `none`."""
    if rule not in LR_SCALING:
        raise ValueError(f"nb_scaled_lr: unknown rule {rule!r}; choose one of: {', '.join(LR_SCALING)}")
    return float(base_lr) * math.pow(int(batch_size) / int(base_batch_size), LR_SCALING[rule])


OmegaConf.register_new_resolver("nb_run_name", _run_name_resolver, replace=True)
OmegaConf.register_new_resolver("nb_div", _div, replace=True)
OmegaConf.register_new_resolver("nb_scaled_lr", _scaled_lr, replace=True)
register_configs()


def _hydra_files(cfg: DictConfig) -> dict[str, str]:
    """What Hydra itself would write to .hydra/ (Hydra's own writing is off: see configs/config.yaml).
    config.yaml is resolved: values computed by normbench's resolvers (e.g. a study's max_steps) are
    recorded as the numbers the run used, readable without normbench's resolvers registered."""
    hydra_cfg = HydraConfig.get()
    return {
        ".hydra/config.yaml": OmegaConf.to_yaml(cfg, resolve=True),
        ".hydra/overrides.yaml": OmegaConf.to_yaml(OmegaConf.create(list(hydra_cfg.overrides.task))),
        ".hydra/hydra.yaml": OmegaConf.to_yaml(OmegaConf.create({"hydra": OmegaConf.to_container(hydra_cfg)})),
    }


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def task(cfg: DictConfig) -> str:
    from normbench.engine.run import run_experiment  # imports torch

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    if in_sweep:
        fit_job_to_launcher(cfg, hydra_cfg)
    try:
        summary = run_experiment(cfg, run_dir, extra_files=_hydra_files(cfg))
    except ConfigError as error:
        _remove_if_empty(run_dir)
        if in_sweep:
            return _sweep_job_problem(run_dir, "invalid", str(error))
        print(f"normbench: error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        if not in_sweep:
            raise
        # Hydra's launchers would abort the whole sweep on this exception. run_experiment has already
        # recorded it in summary.json (status failed) if training had started; the other jobs go on.
        return _sweep_job_problem(run_dir, "failed", f"{type(error).__name__}: {error}", traceback=True)
    status = "skipped" if summary.get("skipped") else summary["status"]
    line = f"{run_dir.name}: {status}"
    if summary.get("final_test_acc") is not None:
        line += f", test acc {summary['final_test_acc']:.4f}, {summary['steps_per_s']} steps/s"
    if summary.get("error"):
        line += f" ({summary['error']})"
    log.info(line)
    return status


def _sweep_job_problem(run_dir: Path, status: str, message: str, traceback: bool = False) -> str:
    """Log a job's problem, hand it to the sweep's ledger, and return its status (the sweep goes on)."""
    log.error("%s: %s: %s", run_dir.name, status, message, exc_info=traceback)
    sweep.note_job_error(message)
    return status


def _remove_if_empty(run_dir: Path) -> None:
    try:
        run_dir.rmdir()  # Hydra creates the directory before the task runs; only an empty one is removed
    except OSError:
        pass


def main() -> None:
    problem = command_line_error(sys.argv[1:])
    if problem:
        print(f"normbench: error: {problem}", file=sys.stderr)
        sys.exit(2)
    task()
    tally = sweep.last_tally()
    if tally is not None and not tally.ok:
        sys.exit(1)  # after Hydra returns: every job ran, and the tally above says which ones went wrong


if __name__ == "__main__":
    main()
