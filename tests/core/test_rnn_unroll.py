"""The normalized recurrences' fast path (directions side by side, rnn.unroll) against a plain reference: each
direction stepped alone through the formulas in rnn.py's docstring, with the same modules' projections and norms."""

import copy

import pytest
import torch

from normbench.config.validate import validate
from normbench.models import InputSpec, build_model
from normbench.models.rnn import Cell
from normbench.norms import NormFactory

SPEC = InputSpec((3, 12), 10)  # 12 steps of 3 features: the input term is normalized too (model.input_norm=true)
STEP_NORMS = ["batch", "layer", "rms", "group", "batch_renorm", "ghost_batch", "switch"]


def _reference_direction(layer, seq):
    """One direction, one step at a time, as the module's docstring writes it (no batching of anything)."""
    hidden = layer.hidden_size
    h = c = seq.new_zeros(seq.shape[0], hidden)
    gates_x = layer.norm_x(layer.x_proj(seq), 0)
    outputs = []
    for t in range(seq.shape[1]):
        gx, gh = gates_x[:, t], layer.norm_h(layer.h_proj(h), t)
        if layer.cell is Cell.lstm:
            i, f, g, o = (gx + gh).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(layer.norm_c(c, t))
        else:
            (rx, zx, nx), (rh, zh, nh) = gx.chunk(3, dim=1), gh.chunk(3, dim=1)
            r, z = torch.sigmoid(rx + rh), torch.sigmoid(zx + zh)
            n = torch.tanh(nx + r * nh)
            h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def _reference_forward(model, x):
    seq = x.transpose(1, 2)
    recurrence = model.recurrence
    out = _reference_direction(recurrence.forward_layer, seq)
    if recurrence.backward_layer is not None:
        out = torch.cat([out, _reference_direction(recurrence.backward_layer, seq.flip(1)).flip(1)], dim=-1)
    return model.head(out.flatten(1))


@pytest.mark.parametrize("norm", STEP_NORMS)
def test_fast_unroll_equals_the_stepwise_reference(make_cfg, norm):
    for cell in ("gru", "lstm"):
        cfg = make_cfg("model=rnn", f"model.cell={cell}", "model.hidden_size=5", "model.input_norm=true", f"norm={norm}")
        _check_against_reference(validate(cfg))


def _check_against_reference(options):
    torch.manual_seed(0)
    # In float64, so that a tight tolerance separates a wrong formula from the rounding of another op order
    # (GroupNorm over 3-channel groups amplifies float32 rounding in the gradients to ~1e-3).
    fast = build_model(options.model, SPEC, NormFactory(options.norm, owner="model=rnn")).double()
    reference = copy.deepcopy(fast)
    x = torch.randn(50, 3, 12, dtype=torch.float64) + torch.linspace(-2, 2, 12, dtype=torch.float64)
    for mode in ("train", "eval"):
        fast.train(mode == "train"), reference.train(mode == "train")
        out_fast, out_ref = fast(x), _reference_forward(reference, x)
        torch.testing.assert_close(out_fast, out_ref, rtol=1e-10, atol=1e-10)
        out_fast.square().sum().backward()
        out_ref.square().sum().backward()
    for (name, p_fast), p_ref in zip(fast.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p_fast.grad, p_ref.grad, rtol=1e-9, atol=1e-10,
                                   msg=lambda m, name=name: f"{options.model.cell.value} {name}: {m}")
    for (name, b_fast), b_ref in zip(fast.named_buffers(), reference.buffers()):  # per-step running statistics
        torch.testing.assert_close(b_fast, b_ref, rtol=1e-10, atol=1e-10, msg=lambda m, name=name: f"{name}: {m}")
