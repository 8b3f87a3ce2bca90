"""No tracker beside TensorBoard and metrics.csv (the default)."""

from normbench.config.options import LoggerConfig
from normbench.trackers._registry import TrackedRun, register_logger


@register_logger("none")
def build(cfg: LoggerConfig, run: TrackedRun) -> None:
    return None
