"""Batch renormalization (Ioffe 2017): clipping of r and d, no gradient through them, the σ moving average,
and the warm-up/relaxation schedule scaled to the run."""

import pytest
import torch

from normbench.errors import ConfigError
from normbench.norms import NormSite, create_norm
from normbench.norms.batch_renorm import RenormSchedule
from tests.norms.norm_formulas import Context, batch_renorm, moments

from .configs import norm_cfg

EPS = 1e-5


def renorm(channels=4, **settings) -> torch.nn.Module:
    settings = {"renorm_schedule": "absolute", "affine": False, **settings}
    return create_norm(norm_cfg("batch_renorm", **settings), NormSite("features", channels)).double().train()


def relaxed(module, step=10**6):
    module.on_train_step(step, step)
    return module


def test_r_and_d_are_clipped_to_the_limits_in_force():
    module = relaxed(renorm(rmax=2.0, dmax=1.0))  # running statistics at their start: μ = 0, σ² = 1
    torch.manual_seed(0)
    # Per channel: std 0.1 (r clipped to 1/2), std 1 (unclipped), std 5 (r clipped to 2); channel 1 has mean 3
    # (d clipped to 1), channel 3 a mean of 0.4 (d unclipped).
    std = torch.tensor([0.1, 1.0, 5.0, 1.0], dtype=torch.float64)
    mean = torch.tensor([0.0, 3.0, 0.0, 0.4], dtype=torch.float64)
    z = torch.randn(256, 4, dtype=torch.float64)
    z = (z - z.mean(0)) / z.std(0, unbiased=False)  # exact batch moments
    x = z * std + mean
    y = module(x)
    batch_std = torch.sqrt(std**2 + EPS)
    sigma = (1 + EPS) ** 0.5
    r = torch.clamp(batch_std / sigma, 0.5, 2.0)
    d = torch.clamp(mean / sigma, -1.0, 1.0)
    assert r[0] == 0.5 and r[2] == 2.0 and 0.5 < r[1] < 2.0
    assert d[1] == 1.0 and 0 < d[3] < 1.0
    assert torch.allclose(y, (x - mean) / batch_std * r + d, atol=1e-10)
    # Unclipped, r and d would turn the output into the running-statistics normalization: visibly different.
    assert not torch.allclose(y, (x - 0.0) / sigma, atol=1e-2)


def test_no_gradient_flows_through_r_and_d():
    module = relaxed(renorm(rmax=100.0, dmax=100.0, affine=True)).double()
    with torch.no_grad():
        module.running_mean.fill_(0.5)
        module.running_var.fill_(2.0)
        module.weight.copy_(torch.tensor([1.0, 2.0, 0.5, 1.5]))
    x = (torch.randn(9, 4, dtype=torch.float64) * 1.7 + 0.3).requires_grad_()
    weights = torch.randn(9, 4, dtype=torch.float64)
    grad = torch.autograd.grad((module(x) * weights).sum(), [x, module.weight, module.bias])

    params = {"weight": module.weight.detach().clone().requires_grad_(), "bias": module.bias.detach().clone().requires_grad_()}

    def reference_grad(detach: bool):
        running = {"mean": torch.full((1, 4), 0.5, dtype=torch.float64), "var": torch.full((1, 4), 2.0, dtype=torch.float64)}
        ctx = Context(role="features", training=True, momentum=module.momentum, rmax=100.0, dmax=100.0,
                      detach_correction=detach)
        x_ref = x.detach().clone().requires_grad_()
        y = batch_renorm(x_ref, params, running, ctx)
        return torch.autograd.grad((y * weights).sum(), [x_ref, *params.values()])

    stopped, through = reference_grad(True), reference_grad(False)
    for ours, expected in zip(grad, stopped):
        assert torch.allclose(ours, expected, atol=1e-10)
    # With gradient through r and d the input gradient would be another one entirely (that of a fixed affine map).
    assert not torch.allclose(grad[0], through[0], atol=1e-3)


def test_running_statistics_follow_the_papers_moving_average_of_sigma():
    module = relaxed(renorm(momentum=0.5))
    x = torch.randn(32, 4, dtype=torch.float64) * 3 + 1
    module(x)
    mean_b, var_b = (m.flatten() for m in moments(x, [0]))
    sigma = torch.full((4,), (1 + EPS) ** 0.5, dtype=torch.float64)
    expected_sigma = sigma + 0.5 * (torch.sqrt(var_b + EPS) - sigma)
    assert torch.allclose(module.running_mean[0], 0.5 * mean_b, atol=1e-12)
    assert torch.allclose(module.running_var[0], expected_sigma**2 - EPS, atol=1e-12)
    # Not PyTorch BN's rule (average of the unbiased variance), which gives a clearly different value here.
    assert not torch.allclose(module.running_var[0], 0.5 + 0.5 * var_b * 32 / 31, atol=1e-2)


def test_until_warm_up_ends_it_is_batch_norm_and_after_it_is_not():
    module = renorm(renorm_warmup_steps=5, renorm_rmax_steps=10, renorm_dmax_steps=10, rmax=3.0, dmax=5.0)
    with torch.no_grad():
        module.running_mean.fill_(2.0)
        module.running_var.fill_(9.0)
    x = torch.randn(16, 4, dtype=torch.float64)
    mean, var = moments(x, [0])
    batch_normalized = (x - mean) / torch.sqrt(var + EPS)
    module.on_train_step(5, 100)
    assert (module.rmax, module.dmax) == (1.0, 0.0)
    assert torch.allclose(module(x), batch_normalized, atol=1e-10)
    module.on_train_step(8, 100)
    assert not torch.allclose(module(x), batch_normalized, atol=1e-3)


def test_schedule_scaled_to_the_run_follows_the_papers_points():
    paper = RenormSchedule(rmax=3.0, dmax=5.0, warmup_steps=5000, rmax_steps=40000, dmax_steps=25000,
                           mode="scaled", reference_steps=40000)
    # A 6000-step run: warm-up ends at 750, dmax is reached at 3750, rmax at 6000.
    assert paper.points(6000) == (750, 6000, 3750)
    assert paper.limits(1, 6000) == (1.0, 0.0)
    assert paper.limits(750, 6000) == (1.0, 0.0)
    rmax, dmax = paper.limits(3000, 6000)
    assert rmax == pytest.approx(1 + 2 * (3000 - 750) / (6000 - 750))
    assert dmax == pytest.approx(5 * (3000 - 750) / (3750 - 750))
    assert paper.limits(3750, 6000)[1] == 5.0
    assert paper.limits(6000, 6000) == (3.0, 5.0)


def test_schedule_in_absolute_steps_ignores_the_run_length():
    paper = RenormSchedule(rmax=3.0, dmax=5.0, warmup_steps=5000, rmax_steps=40000, dmax_steps=25000,
                           mode="absolute")
    assert paper.points(6000) == (5000, 40000, 25000)
    assert paper.limits(5000, 6000) == (1.0, 0.0)
    assert paper.limits(6000, 6000) == pytest.approx((1 + 2 * 1000 / 35000, 5 * 1000 / 20000))
    assert paper.limits(25000, 100) == pytest.approx((1 + 2 * 20000 / 35000, 5.0))
    assert paper.limits(50000, 100) == (3.0, 5.0)


def test_on_train_step_sets_the_limits_from_the_config():
    module = create_norm(norm_cfg("batch_renorm"), NormSite("map2d", 3))  # defaults: the paper, scaled
    assert (module.rmax, module.dmax) == (1.0, 0.0)  # step 0: plain BN until the trainer says otherwise
    module.on_train_step(6000, 6000)
    assert (module.rmax, module.dmax) == (3.0, 5.0)


@pytest.mark.parametrize("setting", [{"renorm_schedule": "cosine"}, {"rmax": 0.5}, {"dmax": -1.0},
                                     {"renorm_reference_steps": 0}, {"renorm_warmup_steps": -1}])
def test_bad_settings_are_refused_when_built(setting):
    with pytest.raises(ConfigError):
        create_norm(norm_cfg("batch_renorm", **setting), NormSite("features", 3))
