"""Transformer: a small encoder classifier over patches of the input (norms act on tokens: role `tokens`).

The input is cut into patches along its positions: a [C, L] sequence (MNIST-1D) into L/p patches of C·p values,
a [C, H, W] image into (H/p)·(W/p) square patches of C·p·p values, a [F] feature vector as one channel of length
F. Each patch is embedded by one linear layer, a learned positional embedding is added (and a learned class
token put first with `pooling=cls`), then `layers` encoder blocks, an optional final norm, pooling over the
tokens (their mean, or the class token) and a linear head.

Where the norms sit (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture"):
    Post-LN (the original Transformer):  x = N1(x + Attn(x));      x = N2(x + FFN(x))
    Pre-LN:                              x = x + Attn(N1(x));      x = x + FFN(N2(x));   ... then N_final(x)
Attention is written out with F.scaled_dot_product_attention (not nn.TransformerEncoderLayer, whose norm is
fixed to LayerNorm), so every norm site is built by `make_norm("tokens", d_model)`.
"""

import math
from dataclasses import dataclass
from enum import Enum
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from normbench.config.options import ModelConfig, positive, within
from normbench.errors import ConfigError
from normbench.models._registry import register_model


class NormPosition(Enum):
    pre = "pre"  # inside each residual branch, before attention / the feed-forward net (plus a final norm)
    post = "post"  # after each residual addition, as in Vaswani et al. 2017


class Pooling(Enum):
    mean = "mean"  # the mean of the patch tokens
    cls = "cls"  # a learned class token put first (ViT, BERT)


@dataclass
class TransformerConfig(ModelConfig):
    d_model: int = 64
    heads: int = 4
    layers: int = 4
    ffn_mult: int = 2  # the feed-forward net's hidden width is ffn_mult · d_model
    dropout: float = 0.0
    patch_size: int = 4  # positions per patch (a side of the square patch for images); must divide the input
    norm_position: NormPosition = NormPosition.pre
    # A norm after the last block. null = auto: on for Pre-LN (whose residual stream is otherwise never
    # normalized, Xiong et al.), off for Post-LN (whose last block already ends in a norm).
    final_norm: Optional[bool] = None
    pooling: Pooling = Pooling.mean

    def label(self) -> str:
        return f"{self.name}-{self.norm_position.value}"

    def variant(self) -> Optional[str]:
        return self.norm_position.value

    def has_final_norm(self) -> bool:
        return self.norm_position is NormPosition.pre if self.final_norm is None else self.final_norm

    def check(self) -> None:
        for key in ("d_model", "heads", "layers", "ffn_mult", "patch_size"):
            positive(getattr(self, key), f"model.{key}")
        within(self.dropout, 0.0, 0.99, "model.dropout")
        if self.d_model % self.heads:
            divisors = [h for h in range(1, self.d_model + 1) if self.d_model % h == 0]
            raise ConfigError(f"model.heads={self.heads} does not divide model.d_model={self.d_model}; "
                              f"choose one of: {', '.join(map(str, divisors))}")


class SelfAttention(nn.Module):
    """Multi-head self-attention: one projection to queries, keys and values, scaled dot products, output
    projection."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(n, t, d))


class FeedForward(nn.Module):
    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.up, self.down = nn.Linear(d_model, hidden), nn.Linear(hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    """One encoder block: attention and a feed-forward net, each a residual branch with a norm."""

    def __init__(self, cfg: TransformerConfig, make_norm):
        super().__init__()
        self.attn = SelfAttention(cfg.d_model, cfg.heads, cfg.dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn_mult * cfg.d_model)
        self.norm1, self.norm2 = make_norm("tokens", cfg.d_model), make_norm("tokens", cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.pre = cfg.norm_position is NormPosition.pre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre:  # the residual stream itself is never normalized: the norms feed the branches
            x = x + self.drop(self.attn(self.norm1(x)))
            return x + self.drop(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x)))  # the norms take the residual sums
        return self.norm2(x + self.drop(self.ffn(x)))


class Patches(nn.Module):
    """(N, C, L) -> (N, L/p, C·p); (N, C, H, W) -> (N, (H/p)·(W/p), C·p·p), patches in row-major order."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, n, c = self.size, x.shape[0], x.shape[1]
        if x.dim() == 3:
            return x.reshape(n, c, -1, p).permute(0, 2, 1, 3).reshape(n, -1, c * p)
        h, w = x.shape[2] // p, x.shape[3] // p
        return x.reshape(n, c, h, p, w, p).permute(0, 2, 4, 1, 3, 5).reshape(n, h * w, c * p * p)


class Transformer(nn.Module):
    def __init__(self, cfg: TransformerConfig, shape: tuple, num_classes: int, make_norm):
        super().__init__()
        self.shape = shape  # one sample's [C, L] or [C, H, W]
        patch_values = shape[0] * cfg.patch_size ** (len(shape) - 1)
        tokens = math.prod(size // cfg.patch_size for size in shape[1:])
        self.patches = Patches(cfg.patch_size)
        self.embed = nn.Linear(patch_values, cfg.d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model)) if cfg.pooling is Pooling.cls else None
        self.position = nn.Parameter(torch.zeros(1, tokens + (self.cls is not None), cfg.d_model))
        nn.init.normal_(self.position, std=0.02)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.Sequential(*(Block(cfg, make_norm) for _ in range(cfg.layers)))
        self.final_norm = make_norm("tokens", cfg.d_model) if cfg.has_final_norm() else nn.Identity()
        self.head = nn.Linear(cfg.d_model, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(self.patches(x.reshape(x.shape[0], *self.shape)))
        if self.cls is not None:
            tokens = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1)
        h = self.final_norm(self.blocks(self.drop(tokens + self.position)))
        return self.head(h[:, 0] if self.cls is not None else h.mean(dim=1))


@register_model("transformer", config=TransformerConfig, capturable=True)
def build(cfg: TransformerConfig, spec, make_norm):
    shape = (1, *spec.shape) if spec.spatial_dims == 0 else tuple(spec.shape)  # a feature vector: one channel
    if len(shape) > 3:
        raise ConfigError(f"model=transformer needs data of shape [F], [C, L] or [C, H, W]; this data has shape "
                          f"{list(spec.shape)}")
    for size in shape[1:]:
        if size % cfg.patch_size:
            divisors = [p for p in range(1, size + 1) if all(s % p == 0 for s in shape[1:])]
            raise ConfigError(f"model.patch_size={cfg.patch_size} does not divide the input's positions "
                              f"{list(shape[1:])}; choose one of: {', '.join(map(str, divisors))}")
    return Transformer(cfg, shape, spec.num_classes, make_norm)
