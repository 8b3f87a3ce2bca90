"""Models (MLP, CNN, RNN, Transformer, torchvision's, your own factory), each registered by name in its own module.

An option module holds its schema and its builder and imports no torch; the networks the builders make are in
nets/ (nn.Modules, norm swapping), imported when a model is built."""

from normbench.models._registry import MODELS, InputSpec, build_model, register_model

__all__ = ["MODELS", "InputSpec", "build_model", "register_model"]
