"""RMSNorm (Zhang & Sennrich 2019): each sample divided by the root mean square of its features.

No mean subtraction and a gain only (no bias). On conv maps the RMS runs over (channels, positions)
with one gain per channel, the same convention as LayerNorm here. On a Transformer's tokens (N, T, D): each
token across its D features. The conv-map layer, `ChannelRMSNorm`, is in layers/rms.py.
"""

from normbench.norms._registry import register_norm


@register_norm("rms", roles=("features", "map1d", "map2d", "step", "tokens"), shifts=False)  # a gain, no shift
def build(cfg, site):
    # torch: imported when a model is built, not when a config is checked
    from torch import nn

    from normbench.norms.layers.rms import ChannelRMSNorm
    from normbench.norms.layers.step import EachStep

    if site.role in ("map1d", "map2d"):
        return ChannelRMSNorm(site.num_features, cfg.eps, cfg.affine)
    norm = nn.RMSNorm(site.num_features, eps=cfg.eps, elementwise_affine=cfg.affine)
    return EachStep(norm) if site.role == "step" else norm
