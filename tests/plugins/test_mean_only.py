"""The example plugin's norm, mean-only batch normalization (Salimans & Kingma 2016), against its formula:
y = x − μ_B + b in training (μ_B per channel across samples and positions), y = x − μ_run + b in evaluation,
μ_run ← (1 − α) μ_run + α μ_B after every training batch. Float64 references with plain tensor ops."""

from pathlib import Path

import pytest
import torch

from normbench.config.plugins import load_user_dir
from normbench.norms import NORMS, NormSite, create_norm, norm_config, traits

PLUGINS = Path(__file__).resolve().parents[2] / "examples" / "plugins"


@pytest.fixture(scope="module", autouse=True)
def _plugins():
    load_user_dir(str(PLUGINS))


def _reference(x, bias, running, momentum, training):
    dims = [0, *range(2, x.dim())]
    mean = x.mean(dim=dims) if training else running
    new_running = (1 - momentum) * running + momentum * x.mean(dim=dims) if training else running
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return x - mean.view(shape) + bias.view(shape), new_running


@pytest.mark.parametrize("role, shape", [("features", (6, 5)), ("map1d", (4, 3, 7)), ("map2d", (3, 2, 4, 5))])
def test_mean_only_matches_its_formula_in_training_and_evaluation(role, shape):
    module = create_norm(norm_config("mean_only"), NormSite(role, shape[1])).double()
    with torch.no_grad():
        module.bias.copy_(torch.linspace(-1, 1, shape[1], dtype=torch.float64))
    running = torch.zeros(shape[1], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):  # three training batches: the running mean follows the EMA
        x = torch.randn(shape, generator=generator, dtype=torch.float64) * 3 + 2
        expected, running = _reference(x, module.bias.detach(), running, 0.1, training=True)
        torch.testing.assert_close(module.train()(x), expected)
    torch.testing.assert_close(module.running_mean, running)
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    expected, _ = _reference(x, module.bias.detach(), running, 0.1, training=False)
    torch.testing.assert_close(module.eval()(x), expected)


def test_mean_only_centres_each_channel_but_keeps_its_scale():
    module = create_norm(norm_config("mean_only", affine=False), NormSite("map1d", 3)).train()
    x = torch.randn(8, 3, 10) * torch.tensor([1.0, 5.0, 0.2]).view(1, 3, 1) + 4
    y = module(x)
    assert torch.allclose(y.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5)
    torch.testing.assert_close(y.std(dim=(0, 2)), x.std(dim=(0, 2)))  # no division: the spread is untouched
    assert list(module.parameters()) == []


def test_mean_only_is_registered_with_the_shared_schema_and_its_roles():
    option = NORMS.get("mean_only")
    assert option.config.__name__ == "NormConfig"
    assert traits("mean_only").roles == frozenset({"features", "map1d", "map2d"})
    assert traits("mean_only").batch_dependent
