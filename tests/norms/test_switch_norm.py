"""Switchable normalization (Luo et al. 2018): a convex mixture of IN, LN and BN statistics."""

import pytest
import torch

from normbench.norms import NormSite, create_norm
from tests.norms.norm_formulas import batch_dims, moments, position_dims, sample_dims

from .configs import norm_cfg

EPS = 1e-5
AXES = {"in": position_dims, "ln": sample_dims, "bn": batch_dims}


def switch(role="map2d", channels=4):
    cfg = norm_cfg("switch", affine=False)
    return create_norm(cfg, NormSite(role, channels)).double().train()


def normalized(x, mean_source, var_source):
    mean, _ = moments(x, AXES[mean_source](x))
    _, var = moments(x, AXES[var_source](x))
    return (x - mean) / torch.sqrt(var + EPS)


def test_maps_mix_in_ln_and_bn_and_feature_vectors_only_ln_and_bn():
    assert switch("map2d").sources == ("in", "ln", "bn")
    assert switch("map1d").sources == ("in", "ln", "bn")
    assert switch("features").sources == ("ln", "bn")  # IN of a single value does not exist (authors' SwitchNorm1d)
    assert switch("step").sources == ("ln", "bn")


@pytest.mark.parametrize("mean_source", ["in", "ln", "bn"])
@pytest.mark.parametrize("var_source", ["in", "ln", "bn"])
def test_a_one_hot_mixture_is_that_norm_and_means_and_variances_switch_separately(mean_source, var_source):
    module = switch()
    sources = module.sources
    with torch.no_grad():  # logits 0 or -60: softmax weights 1 and e^-60
        module.mean_weight.copy_(torch.tensor([0.0 if s == mean_source else -60.0 for s in sources]))
        module.var_weight.copy_(torch.tensor([0.0 if s == var_source else -60.0 for s in sources]))
    x = torch.randn(5, 4, 3, 6, dtype=torch.float64) * 2 + torch.arange(4.0).view(1, 4, 1, 1)
    assert torch.allclose(module(x), normalized(x, mean_source, var_source), atol=1e-10)


def test_output_is_the_convex_mixture_of_the_statistics():
    module = switch("map1d")
    with torch.no_grad():
        module.mean_weight.copy_(torch.tensor([0.3, -1.0, 0.8]))
        module.var_weight.copy_(torch.tensor([-0.5, 1.2, 0.1]))
    x = torch.randn(6, 4, 9, dtype=torch.float64) * 3 + 1
    mean_w, var_w = torch.softmax(module.mean_weight.detach(), 0), torch.softmax(module.var_weight.detach(), 0)
    stats = {s: moments(x, AXES[s](x)) for s in ("in", "ln", "bn")}
    mean = sum(w * stats[s][0] for w, s in zip(mean_w, module.sources))
    var = sum(w * stats[s][1] for w, s in zip(var_w, module.sources))
    assert torch.allclose(module(x), (x - mean) / torch.sqrt(var + EPS), atol=1e-10)
    weights = module.mixture_weights()
    assert sum(weights["mean"].values()) == pytest.approx(1.0)
    assert weights["var"]["ln"] == pytest.approx(var_w[1].item())


def test_mixture_weights_start_equal_and_learn():
    module = switch("features")
    assert module.mixture_weights() == {"mean": {"ln": 0.5, "bn": 0.5}, "var": {"ln": 0.5, "bn": 0.5}}
    x = torch.randn(8, 4, dtype=torch.float64) * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    grads = torch.autograd.grad((module(x) * torch.randn(8, 4, dtype=torch.float64)).sum(),
                                [module.mean_weight, module.var_weight])
    assert all(g.abs().sum() > 0 for g in grads)


def test_a_map_with_a_single_position_mixes_an_instance_variance_of_zero():
    module = switch("map2d")
    x = torch.randn(6, 4, 1, 1, dtype=torch.float64) * 2 + 1
    stats = {s: moments(x, AXES[s](x)) for s in ("in", "ln", "bn")}
    mean = sum(stats[s][0] for s in module.sources) / 3
    var = sum(stats[s][1] for s in module.sources) / 3  # IN's variance over one position is 0
    assert torch.allclose(module(x), (x - mean) / torch.sqrt(var + EPS), atol=1e-10)
