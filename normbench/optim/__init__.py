"""Optimizers, each registered by name in its own module with its schema."""

from normbench.optim._registry import OPTIMIZERS, build_optimizer, register_optimizer

__all__ = ["OPTIMIZERS", "build_optimizer", "register_optimizer"]
