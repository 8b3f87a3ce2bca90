"""Models (MLP, CNN, RNN, Transformer, torchvision's, your own factory), each registered by name in its own module."""

from normbench.models._registry import MODELS, InputSpec, build_model, register_model
from normbench.models._swaps import NormSwap, NormSwapped

__all__ = ["MODELS", "InputSpec", "NormSwap", "NormSwapped", "build_model", "register_model"]
