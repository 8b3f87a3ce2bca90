"""Normalization layers, each registered by name in its own module (see `_registry.py`)."""

from normbench.norms._registry import NORMS, ROLES, NormSite, NormSpec, create_norm, norms_for_role, register_norm

__all__ = ["NORMS", "ROLES", "NormSite", "NormSpec", "create_norm", "norms_for_role", "register_norm"]
