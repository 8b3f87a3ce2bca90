"""Switchable Normalization (Luo, Ren, Peng, Zhang & Li 2018, "Differentiable Learning-to-Normalize via
Switchable Normalization").

Per sample n and channel c, over the positions (i, j) of a conv map, with biased variances (eqs. 3-5):
    μ_in, σ²_in   each sample and channel across positions (IN)
    μ_ln, σ²_ln   each sample across channels × positions (LN)   = means over c of μ_in and of σ²_in + μ²_in, − μ²_ln
    μ_bn, σ²_bn   each channel across samples × positions (BN)   = means over n of the same
    y = γ (x − Σ_k w_k μ_k) / sqrt(Σ_k w'_k σ²_k + ε) + β,   w = softmax(λ), w' = softmax(λ'),  k ∈ {in, ln, bn}
The mean weights and the variance weights are learned separately (two softmaxes, initialised equal); γ, β
are per channel. On feature vectors (MLP, and the recurrent step role) IN is a single value, so only LN and
BN are mixed, as in the authors' SwitchNorm1d. In the step role each time step keeps its own BN statistics
(like StepwiseBatchNorm); the mixture weights, γ and β are shared across steps.

The BN part follows PyTorch's BN: its running mean and unbiased variance are EMAs with norm.momentum and
replace the batch statistics in evaluation (the authors' "moving average"; their "batch average" is
normbench's eval_stats=precise). Variances here are computed as mean within + spread of the means
(law of total variance), which equals the paper's E[x²] − E[x]² form without its cancellation.

This module holds the builder (the schema is the BN family's); the layer, `SwitchNorm`, is in layers/switch.py.
"""

from normbench.norms._registry import register_norm
from normbench.norms.batch import BatchNormConfig, family_options


@register_norm("switch", roles=("features", "map1d", "map2d", "step"), batch_dependent=True, config=BatchNormConfig)
def build(cfg: BatchNormConfig, site):
    # torch: imported when a model is built, not when a config is checked
    from normbench.norms.layers.switch import SwitchNorm

    sources = ("in", "ln", "bn") if site.role in ("map1d", "map2d") else ("ln", "bn")
    gamma = 1.0 if cfg.gamma_init is None else cfg.gamma_init  # LN's convention: the mixture is not BN
    return SwitchNorm(site.num_features, sources, **family_options(cfg, site, gamma=gamma))
