"""The exception types that carry a user-facing, one-line message (torch-free: the CLI catches them before
torch is imported)."""


class ConfigError(ValueError):
    """A bad configuration or input: the message names what is wrong and what is allowed."""


class CompileFailed(RuntimeError):
    """torch.compile could not build the model's kernels on this machine (normbench/engine/compiling.py)."""
