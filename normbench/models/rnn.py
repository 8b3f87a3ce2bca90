"""RNN: LSTM or GRU over the data's sequence axis, with norms inside the recurrence (role `step`).

Following Ba et al. (2016) for LN and Cooijmans et al. (2016) for BN, the input-to-hidden and the
hidden-to-hidden pre-activations of the gates are normalized separately at every step (and, for LSTM,
the cell state before the output tanh):
    LSTM: (i, f, g, o) = N_x(W_x x_t) + N_h(W_h h_{t-1});  c_t = σ(f)c_{t-1} + σ(i)tanh(g);  h_t = σ(o)tanh(N_c(c_t))
    GRU:  (r, z) = σ(N_x(W_x x_t) + N_h(W_h h_{t-1}));  n = tanh(N_x(W_x x_t)_n + r ⊙ N_h(W_h h_{t-1})_n)
          h_t = (1 − z) n + z h_{t−1}
The norms' shifts replace the gate biases. norm=none uses PyTorch's fused nn.LSTM / nn.GRU (the plain cell).
With one input feature per step (MNIST-1D) the input term is not normalized by default (`model.input_norm`):
a per-sample norm of x_t·w is sign(x_t)·norm(w), which would erase the input.
Defaults reproduce the MNIST-1D paper's bidirectional GRU with hidden size 6, classifying from every
step's output (5,134 parameters).
"""

from dataclasses import dataclass
from enum import Enum
from typing import Optional

import torch
from torch import nn

from normbench.config.options import ModelConfig, positive
from normbench.errors import ConfigError
from normbench.models._registry import register_model


class Cell(Enum):
    lstm = "lstm"
    gru = "gru"


class Head(Enum):
    all_steps = "all_steps"  # classify from every step's output (the MNIST-1D paper)
    last = "last"  # from the last step of each direction only


GATES = {Cell.lstm: 4, Cell.gru: 3}


@dataclass
class RNNConfig(ModelConfig):
    cell: Cell = Cell.gru
    hidden_size: int = 6
    bidirectional: bool = True
    head: Head = Head.all_steps
    # Normalize the input-to-hidden pre-activations too (Ba et al.; Cooijmans et al.). null = auto: yes, unless a
    # step has a single input feature: then W_x x_t is x_t times one vector, and a per-sample norm of it keeps
    # only the sign of x_t (LN(x_t w) = sign(x_t) LN(w)), erasing the input.
    input_norm: Optional[bool] = None

    def label(self) -> str:
        return f"{self.name}-{self.cell.value}"

    def variant(self) -> Optional[str]:
        return self.cell.value

    def check(self) -> None:
        positive(self.hidden_size, "model.hidden_size")


class NormalizedRecurrence(nn.Module):
    """One direction of a normalized LSTM/GRU layer, unrolled in Python over time."""

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
        # All steps' input pre-activations at once (per-step statistics where the norm has them).
        gates_x = self.norm_x(self.x_proj(seq), 0).unbind(1)
        h = seq.new_zeros(seq.shape[0], self.hidden_size)
        step = self._lstm_step if self.cell is Cell.lstm else self._gru_step
        state = (h, h)
        outputs = []
        for t, gx in enumerate(gates_x):
            state = step(gx, self.norm_h(self.h_proj(state[0]), t), state, t)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1)

    # The step functions use fused ops (addcmul, lerp, one sigmoid over several gates): in a Python-unrolled
    # recurrence the cost is the number of ops per step, not their size.
    def _lstm_step(self, gx, gh, state, t):
        _, c = state
        gates = gx + gh
        i, f, _, o = gates.sigmoid().chunk(4, dim=1)
        g = gates[:, 2 * self.hidden_size : 3 * self.hidden_size].tanh()
        c = torch.addcmul(f * c, i, g)
        return o * self.norm_c(c, t).tanh(), c

    def _gru_step(self, gx, gh, state, t):
        h, _ = state
        split = 2 * self.hidden_size
        r, z = (gx[:, :split] + gh[:, :split]).sigmoid().chunk(2, dim=1)
        n = torch.addcmul(gx[:, split:], r, gh[:, split:]).tanh()
        h = torch.lerp(n, h, z)  # (1 - z) * n + z * h
        return h, h


class Bidirectional(nn.Module):
    def __init__(self, forward_layer: nn.Module, backward_layer: nn.Module | None):
        super().__init__()
        self.forward_layer, self.backward_layer = forward_layer, backward_layer

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        out = self.forward_layer(seq)
        if self.backward_layer is None:
            return out
        return torch.cat([out, self.backward_layer(seq.flip(1)).flip(1)], dim=-1)


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


def _sequence_shape(spec) -> tuple[int, int]:
    if spec.spatial_dims == 1:
        return spec.shape[1], spec.shape[0]
    if spec.spatial_dims == 2:
        return spec.shape[1], spec.shape[0] * spec.shape[2]
    raise ConfigError(
        f"model=rnn needs data with a sequence axis (shape [C, L] or [C, H, W]); this data has shape "
        f"{list(spec.shape)} (for synthetic data try data.shape=[1,128])"
    )


def _recurrence(cfg: RNNConfig, make_norm, input_size: int) -> nn.Module:
    if make_norm.name == "none":
        native = nn.LSTM if cfg.cell is Cell.lstm else nn.GRU
        return NativeRecurrence(native(input_size, cfg.hidden_size, batch_first=True, bidirectional=cfg.bidirectional))
    normalize_input = input_size > 1 if cfg.input_norm is None else cfg.input_norm
    make = lambda: NormalizedRecurrence(cfg.cell, input_size, cfg.hidden_size, make_norm, normalize_input)  # noqa: E731
    return Bidirectional(make(), make() if cfg.bidirectional else None)


@register_model("rnn", config=RNNConfig)
def build(cfg: RNNConfig, spec, make_norm):
    steps, input_size = _sequence_shape(spec)
    directions = 2 if cfg.bidirectional else 1
    all_steps = cfg.head is Head.all_steps
    width = directions * cfg.hidden_size * (steps if all_steps else 1)
    return RNN(_recurrence(cfg, make_norm, input_size), nn.Linear(width, spec.num_classes), all_steps=all_steps,
               hidden_size=cfg.hidden_size)
