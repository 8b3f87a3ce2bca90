"""Models (MLP, CNN, RNN), each registered by name in its own module."""

from normbench.models._registry import MODELS, InputSpec, build_model, register_model

__all__ = ["MODELS", "InputSpec", "build_model", "register_model"]
