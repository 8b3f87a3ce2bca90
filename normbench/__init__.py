"""normbench: controlled experiments on normalization layers (BatchNorm, LayerNorm and their relatives).

The plugin API (see docs/architecture.md):

    from normbench import register_norm, register_model, register_dataset, register_optimizer
    from normbench import NormConfig, ModelConfig, DataConfig, OptimConfig   # the schemas to derive from

Imported on first use, so `import normbench` stays free of torch.
"""

__version__ = "0.2.0"

_API = {
    "register_norm": "normbench.norms._registry",
    "register_model": "normbench.models._registry",
    "register_dataset": "normbench.data._registry",
    "register_optimizer": "normbench.optim._registry",
    "NormConfig": "normbench.config.options",
    "ModelConfig": "normbench.config.options",
    "DataConfig": "normbench.config.options",
    "OptimConfig": "normbench.config.options",
    "NormSite": "normbench.norms._registry",
    "InputSpec": "normbench.models._registry",
    "Splits": "normbench.data._registry",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'normbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_API[name]), name)
