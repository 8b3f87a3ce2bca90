"""normbench: controlled experiments on normalization layers (BatchNorm, LayerNorm and their relatives)."""

__version__ = "0.1.0"
