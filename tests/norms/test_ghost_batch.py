"""Ghost batch normalization (Hoffer et al. 2017): BN on each virtual batch, running statistics per virtual batch."""

import pytest
import torch

from normbench.errors import ConfigError
from normbench.norms import NormSite, create_norm
from normbench.norms.ghost_batch import virtual_batch_sizes
from tests.norms.norm_formulas import Context, bn_step

from .configs import norm_cfg


def ghost(role="map1d", channels=3, virtual=4, **settings):
    cfg = norm_cfg("ghost_batch", virtual_batch_size=virtual, momentum=0.3, **settings)
    return create_norm(cfg, NormSite(role, channels)).double().train()


@pytest.mark.parametrize("batch, virtual, sizes", [
    (8, 4, [4, 4]), (10, 4, [4, 4, 2]), (9, 4, [4, 5]), (3, 4, [3]), (4, 4, [4]), (5, 4, [5]), (100, 32, [32, 32, 32, 4]), (97, 32, [32, 32, 33]),
    (101, 32, [32, 32, 32, 5]),
])
def test_virtual_batches_cut_the_batch_in_order(batch, virtual, sizes):
    assert virtual_batch_sizes(batch, virtual) == sizes


@pytest.mark.parametrize("batch", [12, 10, 9])
def test_ghost_batch_equals_batch_norm_applied_to_each_virtual_batch(batch):
    module = ghost()
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.5, 1.0, 2.0]))
        module.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        module.running_var.fill_(2.0)
    x = torch.randn(batch, 3, 7, dtype=torch.float64) * 2 + 1
    y = module(x)
    running = {"mean": torch.zeros(1, 3, dtype=torch.float64), "var": torch.full((1, 3), 2.0, dtype=torch.float64)}
    ctx = Context(role="map1d", training=True, momentum=0.3)
    params = {"weight": module.weight.detach(), "bias": module.bias.detach()}
    chunks = {12: [4, 4, 4], 10: [4, 4, 2], 9: [4, 5]}[batch]
    # BN on each virtual batch by itself, its running-statistics update applied in order.
    expected = torch.cat([bn_step(part, 0, params, running, ctx) for part in x.split(chunks)])
    assert torch.allclose(y, expected, atol=1e-12)
    assert torch.allclose(module.running_mean, running["mean"], atol=1e-12)
    assert torch.allclose(module.running_var, running["var"], atol=1e-12)
    # And not BN over the whole batch.
    whole = bn_step(x, 0, params, {"mean": torch.zeros(1, 3, dtype=torch.float64), "var": torch.ones(1, 3, dtype=torch.float64)}, ctx)
    assert not torch.allclose(y, whole, atol=1e-3)


def test_a_batch_no_larger_than_the_virtual_batch_is_plain_batch_norm():
    module, plain = ghost(virtual=16), create_norm(norm_cfg("batch", momentum=0.3), NormSite("map1d", 3)).double()
    x = torch.randn(16, 3, 5, dtype=torch.float64)
    assert torch.allclose(module(x), plain(x), atol=1e-12)
    assert torch.allclose(module.running_var[0], plain.running_var, atol=1e-12)


def test_evaluation_uses_running_statistics_not_virtual_batches():
    module = ghost(affine=False).eval()
    with torch.no_grad():
        module.running_mean.fill_(1.0)
        module.running_var.fill_(4.0)
    x = torch.randn(12, 3, 5, dtype=torch.float64)
    assert torch.allclose(module(x), (x - 1.0) / (4.0 + 1e-5) ** 0.5, atol=1e-12)


def test_virtual_batch_size_below_two_is_refused():
    with pytest.raises(ConfigError, match="virtual_batch_size"):
        ghost(virtual=1)
