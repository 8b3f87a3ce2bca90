"""Which axes each norm's statistics run over, and the per-time-step statistics of the BN family in an RNN."""

import pytest
import torch

from normbench.norms import NormSite, create_norm
from tests.norms.norm_formulas import Context, instance, layer

from .configs import norm_cfg

BN_FAMILY = ("batch", "batch_renorm", "ghost_batch", "switch")


def build(name: str, role: str, channels: int, **settings):
    return create_norm(norm_cfg(name, **settings), NormSite(role, channels))


def test_layer_norm_normalizes_each_sample_across_its_features_not_each_feature():
    x = torch.randn(64, 9) * torch.linspace(0.5, 4, 9) + torch.linspace(-3, 3, 9)
    y = build("layer", "features", 9, affine=False)(x)
    assert torch.allclose(y.mean(dim=1), torch.zeros(64), atol=1e-5)  # each sample: mean 0 ...
    assert torch.allclose(y.var(dim=1, unbiased=False), torch.ones(64), atol=1e-3)  # ... variance 1
    # Not each feature across the batch: the misreading "LN normalizes each feature" would make these 0 and 1.
    assert y.mean(dim=0).abs().max() > 0.3
    assert (y.var(dim=0, unbiased=False) - 1).abs().max() > 0.3


def test_batch_norm_in_training_normalizes_each_feature_across_the_batch_not_each_sample():
    x = torch.randn(64, 9) * torch.linspace(0.5, 4, 9) + torch.linspace(-3, 3, 9)
    y = build("batch", "features", 9, affine=False).train()(x)
    assert torch.allclose(y.mean(dim=0), torch.zeros(9), atol=1e-5)
    assert torch.allclose(y.var(dim=0, unbiased=False), torch.ones(9), atol=1e-3)
    assert y.mean(dim=1).abs().max() > 0.3


@pytest.mark.parametrize("role, shape", [("map1d", (16, 5, 11)), ("map2d", (8, 5, 3, 4))])
def test_batch_norm_on_maps_normalizes_each_channel_across_batch_and_positions(role, shape):
    x = torch.randn(shape) * 3 + torch.arange(5.0).view(1, 5, *([1] * (len(shape) - 2)))
    y = build("batch", role, 5, affine=False).train()(x)
    dims = [0, *range(2, len(shape))]
    assert torch.allclose(y.mean(dim=dims), torch.zeros(5), atol=1e-5)
    assert torch.allclose(y.var(dim=dims, unbiased=False), torch.ones(5), atol=1e-3)


@pytest.mark.parametrize("role, shape", [("map1d", (4, 6, 7)), ("map2d", (3, 6, 5, 3))])
def test_group_norm_with_one_group_is_layer_norm_and_with_c_groups_is_instance_norm(role, shape):
    x = torch.randn(shape, dtype=torch.float64) * 2 + 1
    ctx = Context(role=role, training=True)
    one = build("group", role, 6, groups=1).double()
    per_channel = build("group", role, 6, groups=6).double()
    with torch.no_grad():
        for module in (one, per_channel):
            module.weight.copy_(torch.linspace(0.5, 2, 6))
            module.bias.copy_(torch.linspace(-1, 1, 6))
        params = {"weight": one.weight, "bias": one.bias}
        # LN over (C, positions) with a gain per channel, and IN: the formulas, and normbench's own modules.
        assert torch.allclose(one(x), layer(x, params, None, ctx), atol=1e-10)
        assert torch.allclose(per_channel(x), instance(x, params, None, ctx), atol=1e-10)
        ln, inst = build("layer", role, 6).double(), build("instance", role, 6).double()
        for module in (ln, inst):
            module.weight.copy_(one.weight)
            module.bias.copy_(one.bias)
        assert torch.allclose(one(x), ln(x), atol=1e-10)
        assert torch.allclose(per_channel(x), inst(x), atol=1e-10)
        assert not torch.allclose(one(x), per_channel(x), atol=1e-3)


def test_layer_norm_on_maps_has_one_gain_per_channel_not_per_element():
    ln = build("layer", "map1d", 6)
    assert ln.weight.shape == (6,)


def _stepwise(name: str, features: int = 4, max_time_steps: int = 3, **settings):
    return build(name, "step", features, max_time_steps=max_time_steps, virtual_batch_size=4, **settings)


@pytest.mark.parametrize("name", BN_FAMILY)
def test_bn_family_keeps_separate_statistics_per_time_step_and_reuses_the_last(name):
    norm = _stepwise(name, momentum=1.0).train()  # momentum 1: the running statistics are the last batch's
    means = torch.tensor([-4.0, 0.0, 4.0, 8.0, 12.0])
    x = torch.randn(16, 5, 4) + means.view(1, 5, 1)  # a different mean at each of 5 steps, 3 slots
    norm(x, 0)
    running = norm.running_mean
    assert running.shape == (3, 4)
    last = x[12:] if name == "ghost_batch" else x  # ghost BN: the last virtual batch (of 4) updates last
    for step in (0, 1):
        assert torch.allclose(running[step], last[:, step].mean(0), atol=1e-5)
    # Steps 2, 3, 4 share the last slot, updated in step order: with momentum 1 it holds step 4's statistics.
    assert torch.allclose(running[2], last[:, 4].mean(0), atol=1e-5)


@pytest.mark.parametrize("name", BN_FAMILY)
@pytest.mark.parametrize("training", [True, False])
def test_sequence_form_equals_per_step_calls(name, training):
    torch.manual_seed(0)
    whole, stepped = _stepwise(name).double(), _stepwise(name).double()
    with torch.no_grad():
        for module in (whole, stepped):
            module.running_mean.copy_(torch.linspace(-1, 1, 12).view(3, 4))
            module.running_var.copy_(torch.linspace(0.5, 2, 12).view(3, 4))
    for module in (whole, stepped):
        if hasattr(module, "on_train_step"):
            module.on_train_step(10**6, 10**6)  # fully relaxed renorm: r and d at work
        module.train(training)
    x = (torch.randn(9, 5, 4, dtype=torch.float64) * 2 + 1).requires_grad_()
    # Steps 1..5 at once, versus one call per step: slots 1, 2, 2, 2, 2.
    y_whole = whole(x, 1)
    y_stepped = torch.stack([stepped(x[:, s], 1 + s) for s in range(5)], dim=1)
    assert torch.allclose(y_whole, y_stepped, atol=1e-12)
    weights = torch.randn_like(x)
    grad_whole = torch.autograd.grad((y_whole * weights).sum(), [x, whole.weight])
    grad_stepped = torch.autograd.grad((y_stepped * weights).sum(), [x, stepped.weight])
    for a, b in zip(grad_whole, grad_stepped):
        assert torch.allclose(a, b, atol=1e-12)
    assert torch.equal(whole.running_mean, stepped.running_mean)
    assert torch.allclose(whole.running_var, stepped.running_var, atol=1e-14)
    moved = not torch.allclose(whole.running_mean, torch.linspace(-1, 1, 12, dtype=torch.float64).view(3, 4))
    assert moved == training  # updated in training only, so the comparison above compared something


@pytest.mark.parametrize("name", BN_FAMILY)
def test_eval_uses_each_steps_own_running_statistics(name):
    norm = _stepwise(name, affine=False).eval()
    with torch.no_grad():
        norm.running_mean.copy_(torch.tensor([[0.0] * 4, [10.0] * 4, [20.0] * 4]))
        norm.running_var.fill_(1.0)
    x = torch.full((2, 5, 4), 10.0)
    y = norm(x, 0)
    if name == "switch":  # the BN part's statistics differ per step; LN's do not
        assert not torch.allclose(y[:, 0], y[:, 1])
        assert torch.allclose(y[:, 2], y[:, 4])
        return
    expected = (10 - torch.tensor([0.0, 10.0, 20.0, 20.0, 20.0])) / (1 + 1e-5) ** 0.5
    assert torch.allclose(y[0, :, 0], expected, atol=1e-5)


def test_bn_in_a_recurrence_starts_with_cooijmans_gain_and_elsewhere_with_one():
    assert torch.allclose(_stepwise("batch").weight, torch.full((4,), 0.1))
    assert torch.allclose(_stepwise("batch_renorm").weight, torch.full((4,), 0.1))
    assert torch.allclose(build("batch_renorm", "features", 4).weight, torch.ones(4))
    assert torch.allclose(_stepwise("switch").weight, torch.ones(4))
    assert torch.allclose(_stepwise("ghost_batch", gamma_init=0.5).weight, torch.full((4,), 0.5))
