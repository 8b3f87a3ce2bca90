"""Normalization layers, each registered by name in its own module (see `_registry.py`)."""

from normbench.norms._registry import (
    NORMS,
    ROLES,
    NormFactory,
    NormSite,
    NormTraits,
    create_norm,
    norm_config,
    norms_for_role,
    register_norm,
    role_problem,
    traits,
)

__all__ = ["NORMS", "ROLES", "NormFactory", "NormSite", "NormTraits", "create_norm", "norm_config", "norms_for_role",
           "register_norm", "role_problem", "traits"]
