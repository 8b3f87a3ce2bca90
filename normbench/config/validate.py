"""The composed config, checked beyond its types and handed out as typed option objects.

Each option's schema checks its own values (`check()`, normbench/config/options.py); here: the settings of
the run itself and the pairs no single option can judge (a norm that needs a batch, a norm per MLP layer).
Each failure is a one-line ConfigError naming what is wrong and what is allowed.
"""

import dataclasses
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from normbench.config.options import (
    DataConfig,
    ModelConfig,
    NormConfig,
    OptimConfig,
    at_least,
    finite,
    positive,
)
from normbench.config.schema import OPTION_GROUPS, VIEW_GROUPS, Switch, TrainerConfig
from normbench.errors import ConfigError
from normbench.rundir.contract import plain_name_problem

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Options:
    """The run's selected options as instances of their own schemas: what the builders receive."""

    model: ModelConfig
    norm: NormConfig
    data: DataConfig
    optim: OptimConfig


def validate(cfg: DictConfig) -> Options:
    _refuse_added_keys(cfg)
    options = Options(**{group: OmegaConf.to_object(cfg[group]) for group in OPTION_GROUPS})
    for option in (options.model, options.norm, options.data, options.optim):
        option.check()
    positive(cfg.batch_size, "batch_size")
    _check_plain(plain_name_problem(cfg.experiment, "experiment"))
    at_least(cfg.num_threads, 0, "num_threads")
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed={cfg.seed} must be in [0, 2**32)")
    if cfg.device.split(":")[0] not in DEVICES:
        raise ConfigError(f"device={cfg.device} is not allowed; choose one of: {', '.join(DEVICES)} (or cuda:N)")
    _check_trainer(cfg.trainer)
    _check_views(cfg)
    _check_probe(cfg.probe)
    _check_norm_roles(options)
    _check_batch_statistics(cfg.batch_size, options)
    return options


def _check_plain(problem: str | None) -> None:
    if problem:
        raise ConfigError(problem)


def _refuse_added_keys(cfg: DictConfig) -> None:
    """`+key=value` makes Hydra add a key even to a typed node: a key no schema has would only change the run's
    name. Refused here, whichever node it was added to (`extra` is free-form metadata)."""
    groups = (*OPTION_GROUPS, *VIEW_GROUPS, "trainer", "probe")
    for path, node in (("", cfg), *((f"{name}.", cfg[name]) for name in groups)):
        schema = OmegaConf.get_type(node)
        if not dataclasses.is_dataclass(schema):
            continue
        allowed = {field.name for field in dataclasses.fields(schema)} | ({"hydra"} if not path else set())
        added = sorted(set(node.keys()) - allowed)
        if added:
            raise ConfigError(f"{path}{added[0]} is not a key of {schema.__name__}; its keys: "
                              f"{', '.join(sorted(allowed - {'hydra'}))}")


def _check_views(cfg: DictConfig) -> None:
    """The objective handed to a sweeper, and the tracker: its library must be installed (an optional extra)."""
    from normbench.launch.objective import objective_problem
    from normbench.trackers import tracker_problem

    logger = OmegaConf.to_object(cfg.logger)
    logger.check()
    problem = objective_problem(cfg.objective, cfg.objective_direction) or tracker_problem(logger)
    if problem:
        raise ConfigError(problem)


def _check_trainer(trainer) -> None:
    positive(trainer.max_steps, "trainer.max_steps")
    if trainer.epochs is not None:
        positive(trainer.epochs, "trainer.epochs")
        if trainer.max_steps != TrainerConfig.max_steps:
            raise ConfigError(f"trainer.epochs={trainer.epochs} and trainer.max_steps={trainer.max_steps} both set the "
                              f"budget; give one of them")
    for key in ("eval_interval", "log_interval", "eval_batch_size"):
        positive(trainer[key], f"trainer.{key}")
    if trainer.grad_clip is not None:
        positive(trainer.grad_clip, "trainer.grad_clip")
    finite(trainer.divergence_loss, "trainer.divergence_loss")
    positive(trainer.divergence_loss, "trainer.divergence_loss")
    at_least(trainer.checkpoint_interval, 0, "trainer.checkpoint_interval")
    Switch.parse(trainer.cuda_graphs, "trainer.cuda_graphs")
    Switch.parse(trainer.compile, "trainer.compile")


def _check_probe(probe) -> None:
    if probe.every < 0:
        raise ConfigError(f"probe.every={probe.every} must be >= 0 (0 turns probes off)")
    positive(probe.points, "probe.points")
    positive(probe.min_scale, "probe.min_scale")
    if not probe.min_scale <= probe.max_scale < float("inf"):
        raise ConfigError(f"probe.max_scale={probe.max_scale} must be finite and >= probe.min_scale={probe.min_scale}")


def _norm_names(options: Options) -> list[str]:
    """Every norm the model will hold: one per layer where it lets each layer choose, else the selected one."""
    return options.model.layer_norm_names() or [options.norm.name]


def _check_norm_roles(options: Options) -> None:
    """A norm that has no meaning on the model's norm sites (instance norm on an MLP's feature vectors), refused
    before torch is imported where the model declares its sites' roles (`ModelConfig.norm_roles`); building the
    model checks every site in any case (`NormFactory`)."""
    from normbench.norms import role_problem  # here: the norms' registry is loaded once options are

    roles = options.model.norm_roles(tuple(options.data.shape))
    for name in _norm_names(options):
        for role in sorted(roles or ()):
            problem = role_problem(name, role, f"model={options.model.name}")
            if problem:
                raise ConfigError(problem)


def _check_batch_statistics(batch_size: int, options: Options) -> None:
    from normbench.norms import traits  # here: the norms' registry is loaded once options are

    for name in _norm_names(options):
        if traits(name).batch_dependent and batch_size < 2:
            raise ConfigError(
                f"norm={name} needs batch_size >= 2: it normalizes with statistics across the batch, and one "
                f"sample has none; use norm=layer, group or instance for batch_size={batch_size}"
            )
