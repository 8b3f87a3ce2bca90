"""`normbench train`: the Hydra app. Thin: compose and check the config, hand it to `run.run_experiment`.

Torch and everything that imports it load inside the task, so `--help`, `--cfg` and tab completion stay fast.
"""

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from normbench.config import register_configs
from normbench.errors import ConfigError
from normbench.identity import run_name
from normbench.paths import config_dir

log = logging.getLogger("normbench")


def _run_name_resolver(*, _root_: DictConfig) -> str:
    return run_name(_root_, _root_.hydra.overrides.task)


OmegaConf.register_new_resolver("nb_run_name", _run_name_resolver, replace=True)
register_configs()


def _hydra_files(cfg: DictConfig) -> dict[str, str]:
    """What Hydra itself would write to .hydra/ (Hydra's own writing is off: see configs/config.yaml)."""
    hydra_cfg = HydraConfig.get()
    return {
        ".hydra/config.yaml": OmegaConf.to_yaml(cfg),
        ".hydra/overrides.yaml": OmegaConf.to_yaml(OmegaConf.create(list(hydra_cfg.overrides.task))),
        ".hydra/hydra.yaml": OmegaConf.to_yaml(OmegaConf.create({"hydra": OmegaConf.to_container(hydra_cfg)})),
    }


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def task(cfg: DictConfig) -> str:
    from normbench.run import run_experiment  # imports torch

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        summary = run_experiment(cfg, run_dir, extra_files=_hydra_files(cfg))
    except ConfigError as error:
        _remove_if_empty(run_dir)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            log.error("%s: %s", run_dir.name, error)
            return "invalid"
        print(f"normbench: error: {error}", file=sys.stderr)
        sys.exit(2)
    status = "skipped" if summary.get("skipped") else summary["status"]
    line = f"{run_dir.name}: {status}"
    if summary.get("final_test_acc") is not None:
        line += f", test acc {summary['final_test_acc']:.4f}, {summary['steps_per_s']} steps/s"
    if summary.get("error"):
        line += f" ({summary['error']})"
    log.info(line)
    return status


def _remove_if_empty(run_dir: Path) -> None:
    try:
        run_dir.rmdir()  # Hydra creates the directory before the task runs; only an empty one is removed
    except OSError:
        pass


def main() -> None:
    task()


if __name__ == "__main__":
    main()
