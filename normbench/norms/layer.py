"""LayerNorm (Ba, Kiros & Hinton 2016): statistics of each sample across all its features.

On conv maps the statistics run over (channels, positions) with one gain and bias per *channel*, as in
the paper; that is GroupNorm(1, C). `nn.LayerNorm([C, L])` would give every element its own gain: a
different model, which normbench does not use. On a Transformer's tokens (N, T, D): each token across its D
features (`nn.LayerNorm(D)` over the last dimension).
"""

from normbench.norms._registry import register_norm


@register_norm("layer", roles=("features", "map1d", "map2d", "step", "tokens"))
def build(cfg, site):
    # torch: imported when a model is built, not when a config is checked
    from torch import nn

    from normbench.norms.layers.step import EachStep

    if site.role in ("map1d", "map2d"):
        return nn.GroupNorm(1, site.num_features, eps=cfg.eps, affine=cfg.affine)
    norm = nn.LayerNorm(site.num_features, eps=cfg.eps, elementwise_affine=cfg.affine)
    return EachStep(norm) if site.role == "step" else norm
