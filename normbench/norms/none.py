"""No normalization."""

from torch import nn

from normbench.norms._registry import ROLES, register_norm
from normbench.norms._step import EachStep


@register_norm("none", roles=ROLES, shifts=False)
def build(cfg, site):
    return EachStep(nn.Identity()) if site.role == "step" else nn.Identity()
