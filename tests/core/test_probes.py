"""The landscape probe's formulas on a model whose loss landscape is known in closed form."""

import math

import pytest
import torch
from torch import nn

from normbench.engine.probes import probe_landscape, step_sizes


def test_step_sizes_are_log_spaced_around_the_learning_rate():
    etas = step_sizes(0.01, 0.05, 4.0, 5)
    assert etas[0] == pytest.approx(0.0005) and etas[-1] == pytest.approx(0.04)
    ratios = [b / a for a, b in zip(etas, etas[1:])]
    assert max(ratios) == pytest.approx(min(ratios))


def test_probe_matches_hand_computed_quantities_and_restores_state():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).train()
    x, y = torch.randn(8, 3), torch.randint(2, (8,))
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    etas = [0.01, 0.1, 1.0]

    # Independent computation: a functional copy of the model at θ − ηg for each η.
    losses, changes = [], []
    for eta in etas:
        moved = {k: v.clone() for k, v in before.items()}
        clone = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).train()
        clone.load_state_dict(moved)
        with torch.no_grad():
            for p, g in zip(clone.parameters(), grads):
                p -= eta * g
        l_eta = nn.functional.cross_entropy(clone(x), y)
        g_eta = torch.autograd.grad(l_eta, list(clone.parameters()))
        losses.append(l_eta.item())
        changes.append(math.sqrt(sum(float((a - b).pow(2).sum()) for a, b in zip(g_eta, grads))))
    g_norm = math.sqrt(sum(float(g.pow(2).sum()) for g in grads))

    result = probe_landscape(model, x, y, etas)
    assert result["loss_variation"] == pytest.approx(max(losses) - min(losses), rel=1e-5)
    assert result["grad_predictiveness"] == pytest.approx(max(changes) - min(changes), rel=1e-5)
    assert result["beta_smoothness"] == pytest.approx(max(c / (e * g_norm) for c, e in zip(changes, etas)), rel=1e-5)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # parameters and BN running statistics restored
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
