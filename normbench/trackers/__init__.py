"""Experiment trackers beside TensorBoard (logger=none|wandb|mlflow), each registered by name in its own module."""

from normbench.trackers._registry import TRACKERS, TrackedRun, create_tracker, register_logger, tracker_problem

__all__ = ["TRACKERS", "TrackedRun", "create_tracker", "register_logger", "tracker_problem"]
