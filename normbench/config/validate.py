"""Checks on the composed config that a type alone cannot express. Each failure is a one-line ConfigError."""

from normbench.errors import ConfigError

EVAL_STATS = ("running", "batch", "precise")
DEVICES = ("auto", "cpu", "cuda", "mps")


def _positive(value, key: str) -> None:
    if value is None or value <= 0:
        raise ConfigError(f"{key}={value} must be positive")


def validate(cfg) -> None:
    from normbench.norms import NORMS  # imports torch: keep it out of Hydra's start-up

    _positive(cfg.batch_size, "batch_size")
    _positive(cfg.trainer.max_steps, "trainer.max_steps")
    if cfg.trainer.epochs is not None:
        _positive(cfg.trainer.epochs, "trainer.epochs")
    for key in ("eval_interval", "log_interval", "eval_batch_size"):
        _positive(cfg.trainer[key], f"trainer.{key}")
    if cfg.trainer.grad_clip is not None:
        _positive(cfg.trainer.grad_clip, "trainer.grad_clip")
    _positive(cfg.optim.lr, "optim.lr")
    for key in ("momentum", "weight_decay"):
        if cfg.optim[key] < 0:
            raise ConfigError(f"optim.{key}={cfg.optim[key]} must be >= 0")
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed={cfg.seed} must be in [0, 2**32)")
    if cfg.device.split(":")[0] not in DEVICES:
        raise ConfigError(f"device={cfg.device} is not allowed; choose one of: {', '.join(DEVICES)} (or cuda:N)")
    if cfg.norm.eval_stats not in EVAL_STATS:
        raise ConfigError(f"norm.eval_stats={cfg.norm.eval_stats} is not allowed; choose one of: {', '.join(EVAL_STATS)}")
    _positive(cfg.norm.eps, "norm.eps")
    if not 0 <= cfg.norm.momentum <= 1:
        raise ConfigError(f"norm.momentum={cfg.norm.momentum} must be in [0, 1]")
    _check_probe(cfg.probe)
    _check_batch_statistics(cfg, NORMS)


def _check_probe(probe) -> None:
    if probe.every < 0:
        raise ConfigError(f"probe.every={probe.every} must be >= 0 (0 turns probes off)")
    _positive(probe.points, "probe.points")
    _positive(probe.min_scale, "probe.min_scale")
    if probe.max_scale < probe.min_scale:
        raise ConfigError(f"probe.max_scale={probe.max_scale} must be >= probe.min_scale={probe.min_scale}")


def _check_batch_statistics(cfg, norms) -> None:
    names = list(cfg.model.layer_norms or []) or [cfg.norm.name]
    for name in names:
        if norms.get(name).batch_dependent and cfg.batch_size < 2:
            raise ConfigError(
                f"norm={name} needs batch_size >= 2: it normalizes with statistics across the batch, and one "
                f"sample has none; use norm=layer, group or instance for batch_size={cfg.batch_size}"
            )
