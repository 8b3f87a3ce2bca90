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
This module holds the schema and the builder; the recurrences and the network are in nets/rnn.py.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Optional

from normbench.config.options import ModelConfig, positive
from normbench.errors import ConfigError
from normbench.models._registry import register_model


class Cell(Enum):
    lstm = "lstm"
    gru = "gru"


class Head(Enum):
    all_steps = "all_steps"  # classify from every step's output (the MNIST-1D paper)
    last = "last"  # from the last step of each direction only


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

    def norm_roles(self, shape: tuple) -> Optional[frozenset]:
        return frozenset({"step"}) if len(shape) in (2, 3) else None  # [C, L] or [C, H, W]: a sequence axis

    def check(self) -> None:
        positive(self.hidden_size, "model.hidden_size")


def _sequence_shape(spec) -> tuple[int, int]:
    if spec.spatial_dims == 1:
        return spec.shape[1], spec.shape[0]
    if spec.spatial_dims == 2:
        return spec.shape[1], spec.shape[0] * spec.shape[2]
    raise ConfigError(
        f"model=rnn needs data with a sequence axis (shape [C, L] or [C, H, W]); this data has shape "
        f"{list(spec.shape)} (for synthetic data try data.shape=[1,128])"
    )


@register_model("rnn", config=RNNConfig, capturable=True)
def build(cfg: RNNConfig, spec, make_norm):
    from torch import nn  # torch: imported when a model is built, not when a config is checked

    from normbench.models.nets.rnn import RNN, recurrence

    steps, input_size = _sequence_shape(spec)
    directions = 2 if cfg.bidirectional else 1
    all_steps = cfg.head is Head.all_steps
    width = directions * cfg.hidden_size * (steps if all_steps else 1)
    return RNN(recurrence(cfg, make_norm, input_size), nn.Linear(width, spec.num_classes), all_steps=all_steps,
               hidden_size=cfg.hidden_size)
