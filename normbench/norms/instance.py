"""InstanceNorm (Ulyanov, Vedaldi & Lempitsky 2016): each sample and channel across positions only.

Only conv maps have positions; on a feature vector every statistic would cover a single value.
Batch-free in train and eval alike (no running statistics), as in the paper.
"""

from normbench.norms._registry import register_norm


@register_norm("instance", roles=("map1d", "map2d"))
def build(cfg, site):
    # torch: imported when a model is built, not when a config is checked
    from torch import nn

    cls = nn.InstanceNorm1d if site.role == "map1d" else nn.InstanceNorm2d
    return cls(site.num_features, eps=cfg.eps, affine=cfg.affine, track_running_stats=False)
