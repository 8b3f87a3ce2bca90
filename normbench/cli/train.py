"""`normbench train`: the Hydra app. Thin: compose and check the config, hand it to `engine.run.run_experiment`.

Every option (the package's, installed plugins', and a `user_dir=DIR`'s) registers its schema before Hydra
composes, so each option's keys are typed and checked by Hydra itself. In a sweep (-m), a job's failure is
recorded and the sweep goes on; `main` exits non-zero afterwards if any job failed or was invalid
(normbench.launch.tally keeps the tally).
"""

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from normbench.config.paths import config_dir
from normbench.config.placement import job_dir_problem, remove_unused_job_dir
from normbench.config.plugins import load_options, plugin_config_dirs, searchpath_override, user_dir_argument
from normbench.config.preflight import VALUE_OPTIONS, command_line_error
from normbench.config.resolvers import register_resolvers
from normbench.config.schema import register_configs
from normbench.config.validate import validate
from normbench.engine.stopping import STOP
from normbench.errors import CompileFailed, ConfigError
from normbench.launch import tally as sweep
from normbench.launch.job_resources import fit_job_to_launcher
from normbench.launch.objective import objective_value, worst
from normbench.launch.orphans import end_with_sweep
from normbench.rundir.contract import (
    FAILED,
    HYDRA_CONFIG,
    HYDRA_OVERRIDES,
    HYDRA_RECORD,
    INVALID,
    SKIPPED,
)

log = logging.getLogger("normbench")

register_resolvers()
register_configs()
load_options()  # the package's options and installed plugins; a user_dir's are loaded by `main`


def _hydra_files(cfg: DictConfig) -> dict[str, str]:
    """What Hydra itself would write to .hydra/ (Hydra's own writing is off: see configs/config.yaml).
    config.yaml is resolved: values computed by normbench's resolvers (e.g. a study's max_steps) are
    recorded as the numbers the run used, readable without normbench's resolvers registered."""
    hydra_cfg = HydraConfig.get()
    return {
        HYDRA_CONFIG: OmegaConf.to_yaml(cfg, resolve=True),
        HYDRA_OVERRIDES: OmegaConf.to_yaml(OmegaConf.create(list(hydra_cfg.overrides.task))),
        HYDRA_RECORD: OmegaConf.to_yaml(OmegaConf.create({"hydra": OmegaConf.to_container(hydra_cfg)})),
    }


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def task(cfg: DictConfig) -> float:
    """Train one configuration; return its objective for an optimizing sweeper (normbench/launch/objective.py):
    the summary metric `objective` of a completed run, the worst value for `objective_direction` otherwise."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    if in_sweep:
        end_with_sweep()  # in a launcher's worker process: end it if the sweep's process dies
        fit_job_to_launcher(cfg, hydra_cfg)
    try:
        load_options(cfg.user_dir)  # a launcher's worker process starts with the package's options only
        misplaced = job_dir_problem(cfg, run_dir)
        if misplaced:
            raise ConfigError(misplaced)
        validate(cfg)  # torch-free: a config mistake is answered before torch is imported (about 1.5 s)
        from normbench.engine.run import run_experiment  # imports torch

        summary = run_experiment(cfg, run_dir, extra_files=_hydra_files(cfg))
    except ConfigError as error:
        remove_unused_job_dir(run_dir)
        if in_sweep:
            return _sweep_job_problem(cfg, run_dir, INVALID, str(error))
        print(f"normbench: error: {error}", file=sys.stderr)
        sys.exit(2)
    except CompileFailed as error:  # the machine's toolchain, not the run: summary.json says failed, and why
        if in_sweep:
            return _sweep_job_problem(cfg, run_dir, FAILED, str(error))
        print(f"normbench: error: {error}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:  # a full disk, a directory that cannot be written: the run's summary says failed
        problem = f"{type(error).__name__}: {error.filename or run_dir}: {error.strerror or error}"
        if in_sweep:
            return _sweep_job_problem(cfg, run_dir, FAILED, problem)
        print(f"normbench: error: {problem}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        if not in_sweep:
            raise
        # Hydra's launchers would abort the whole sweep on this exception. run_experiment has already
        # recorded it in summary.json (status failed) if training had started; the other jobs go on.
        return _sweep_job_problem(cfg, run_dir, FAILED, f"{type(error).__name__}: {error}", traceback=True)
    status = SKIPPED if summary.get("skipped") else summary["status"]
    line = f"{run_dir.name}: {status}"
    if summary.get("final_val_acc") is not None:
        line += f", val acc {summary['final_val_acc']:.4f}"
    if summary.get("final_test_acc") is not None:
        line += f", test acc {summary['final_test_acc']:.4f}, {summary['steps_per_s']} steps/s"
    if summary.get("error"):
        line += f" ({summary['error']})"
    log.info(line)
    sweep.note_job_status(status)
    return objective_value(summary, cfg.objective, cfg.objective_direction)


def _sweep_job_problem(cfg: DictConfig, run_dir: Path, status: str, message: str, traceback: bool = False) -> float:
    """Log a job's problem, hand it to the sweep's ledger, and return the worst objective (the sweep goes on)."""
    log.error("%s: %s: %s", run_dir.name, status, message, exc_info=traceback)
    sweep.note_job_error(message)
    sweep.note_job_status(status)
    return worst(cfg.objective_direction)


def main() -> None:
    try:
        _prepare_command_line()
    except ConfigError as error:
        print(f"normbench: error: {error}", file=sys.stderr)
        sys.exit(2)
    try:
        with STOP.on_signals():  # SIGTERM ends a run as Ctrl-C does: recorded as interrupted, no traceback
            task()
    except KeyboardInterrupt as interrupt:
        print(f"normbench: interrupted ({str(interrupt) or 'Ctrl-C'}): a run in progress is recorded as `interrupted` "
              f"with its last checkpoint kept; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    tally = sweep.last_tally()
    if tally is not None and not tally.ok:
        sys.exit(1)  # after Hydra returns: every job ran, and the tally above says which ones went wrong


def _prepare_command_line() -> None:
    """Check the command line, load a user_dir's plugins and put its configs/ on Hydra's search path."""
    user_dir = user_dir_argument(sys.argv[1:])
    load_options(user_dir)
    configs = plugin_config_dirs(user_dir)
    problem = command_line_error(sys.argv[1:], configs)
    if problem:
        raise ConfigError(problem)
    if configs:
        sys.argv[1:] = with_override(sys.argv[1:], searchpath_override(configs))


def with_override(argv: list[str], override: str) -> list[str]:
    """`argv` with `override` added beside the other overrides: Hydra's parser takes them as one block."""
    for index, argument in enumerate(argv):
        follows_option = index > 0 and argv[index - 1] in VALUE_OPTIONS
        if "=" in argument and not argument.startswith("-") and not follows_option:
            return [*argv[:index], override, *argv[index:]]
    return [*argv, override]


if __name__ == "__main__":
    main()
