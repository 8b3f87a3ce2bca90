"""The RNN network (model=rnn, normbench/models/rnn.py): normalized LSTM/GRU recurrences unrolled in Python, both
directions side by side, or PyTorch's fused nn.LSTM / nn.GRU for norm=none; a linear head on every step's output
or on the last one of each direction.
"""

import torch
from torch import nn

from normbench.models.nets.unrolled import UnrolledLoop
from normbench.models.rnn import Cell, RNNConfig
from normbench.norms.layers.step import stacked_step_norm

GATES = {Cell.lstm: 4, Cell.gru: 3}


class NormalizedRecurrence(nn.Module):
    """One direction of a normalized LSTM/GRU layer: its projections and norms. `unroll` steps through time."""

    def __init__(self, cell: Cell, input_size: int, hidden_size: int, make_norm, normalize_input: bool = True):
        super().__init__()
        self.cell, self.hidden_size = cell, hidden_size
        width = GATES[cell] * hidden_size
        shifted = make_norm.shifts()  # a norm's shift replaces the gate bias (RMSNorm has none: the bias stays)
        self.x_proj = nn.Linear(input_size, width, bias=not (shifted and normalize_input))
        self.h_proj = nn.Linear(hidden_size, width, bias=not shifted)
        self.norm_x = make_norm("step", width, name=None if normalize_input else "none")
        self.norm_h = make_norm("step", width)
        if cell is Cell.lstm:
            self.norm_c = make_norm("step", hidden_size)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq: (N, T, input_size) -> outputs (N, T, hidden_size)."""
        return unroll([self], [seq])[0]


def unroll(layers: list[NormalizedRecurrence], seqs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Run the directions `layers` (same cell and sizes) over their sequences side by side, in one loop over time.

    In a recurrence unrolled in Python the cost is the number of ops per step, not their size: the directions'
    hidden projections are one batched matmul and their gate arithmetic one set of ops on (D, N, ...) tensors;
    the norms run side by side where their statistics allow (norms.layers.step.stacked_step_norm). The input
    term of every step is computed before the loop (norm_x sees all steps at once, per-step statistics kept).
    Returns each direction's outputs (N, T, hidden_size).
    """
    first = layers[0]
    hidden, lstm = first.hidden_size, first.cell is Cell.lstm
    gates_x = torch.stack([layer.norm_x(layer.x_proj(seq), 0) for layer, seq in zip(layers, seqs)])  # (D, N, T, G)
    weight = torch.stack([layer.h_proj.weight for layer in layers]).transpose(1, 2)  # (D, H, G)
    bias = None if first.h_proj.bias is None else torch.stack([layer.h_proj.bias for layer in layers]).unsqueeze(1)
    norm_h = stacked_step_norm([layer.norm_h for layer in layers])
    norm_c = stacked_step_norm([layer.norm_c for layer in layers]) if lstm else None
    h = gates_x.new_zeros(len(layers), gates_x.shape[1], hidden)
    if lstm:
        steps, c = gates_x.unbind(2), h
    else:  # the GRU adds the x and h terms of r and z, but scales only the h term of n by r: split them once
        rz_x, n_x = gates_x.split([2 * hidden, hidden], dim=3)
        steps = list(zip(rz_x.unbind(2), n_x.unbind(2)))
    outputs = []
    for t, gx in enumerate(steps):
        gh = torch.bmm(h, weight) if bias is None else torch.baddbmm(bias, h, weight)
        gh = norm_h(gh, t)
        if lstm:
            gates = gx + gh
            i, f, _, o = gates.sigmoid().chunk(4, dim=2)
            g = gates[..., 2 * hidden : 3 * hidden].tanh()
            c = torch.addcmul(f * c, i, g)
            h = o * norm_c(c, t).tanh()
        else:
            rz_h, n_h = gh.split([2 * hidden, hidden], dim=2)
            r, z = (gx[0] + rz_h).sigmoid().chunk(2, dim=2)
            h = torch.lerp(torch.addcmul(gx[1], r, n_h).tanh(), h, z)  # (1 - z) * n + z * h
        outputs.append(h)
    return list(torch.stack(outputs, dim=2).unbind(0))


class Bidirectional(nn.Module, UnrolledLoop):
    """The normalized recurrence's directions, unrolled side by side in one Python loop over time."""

    def __init__(self, forward_layer: NormalizedRecurrence, backward_layer: NormalizedRecurrence | None):
        super().__init__()
        self.forward_layer, self.backward_layer = forward_layer, backward_layer

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        if self.backward_layer is None:
            return self.forward_layer(seq)
        out, back = unroll([self.forward_layer, self.backward_layer], [seq, seq.flip(1)])
        return torch.cat([out, back.flip(1)], dim=-1)


class NativeRecurrence(nn.Module):
    """PyTorch's fused cell, returning only the per-step outputs."""

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        self.rnn = rnn

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return self.rnn(seq)[0]


class RNN(nn.Module):
    def __init__(self, recurrence: nn.Module, head: nn.Linear, all_steps: bool, hidden_size: int):
        super().__init__()
        self.recurrence, self.head = recurrence, head
        self.all_steps, self.hidden_size = all_steps, hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.recurrence(as_sequence(x))  # (N, T, directions * H)
        if self.all_steps:
            return self.head(out.flatten(1))
        # Last state of each direction: the forward one at step T-1, the backward one at step 0.
        last = torch.cat([out[:, -1, : self.hidden_size], out[:, 0, self.hidden_size :]], dim=1)
        return self.head(last)


def as_sequence(x: torch.Tensor) -> torch.Tensor:
    """[C, L] samples -> L steps of C features; [C, H, W] images -> H rows of C*W features."""
    if x.dim() == 3:
        return x.transpose(1, 2)
    return x.permute(0, 2, 1, 3).flatten(2)


def recurrence(cfg: RNNConfig, make_norm, input_size: int) -> nn.Module:
    if make_norm.name == "none":
        native = nn.LSTM if cfg.cell is Cell.lstm else nn.GRU
        return NativeRecurrence(native(input_size, cfg.hidden_size, batch_first=True, bidirectional=cfg.bidirectional))
    normalize_input = input_size > 1 if cfg.input_norm is None else cfg.input_norm
    make = lambda: NormalizedRecurrence(cfg.cell, input_size, cfg.hidden_size, make_norm, normalize_input)  # noqa: E731
    return Bidirectional(make(), make() if cfg.bidirectional else None)
