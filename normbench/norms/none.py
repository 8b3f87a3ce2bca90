"""No normalization."""

from normbench.norms._registry import ROLES, register_norm


@register_norm("none", roles=ROLES, shifts=False)
def build(cfg, site):
    # torch: imported when a model is built, not when a config is checked
    from torch import nn

    from normbench.norms.layers.step import EachStep

    return EachStep(nn.Identity()) if site.role == "step" else nn.Identity()
