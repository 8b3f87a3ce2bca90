"""The Transformer network (model=transformer, normbench/models/transformer.py): patches embedded as tokens,
encoder blocks with their norms Pre- or Post-LN, pooling and a linear head.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from normbench.models.transformer import NormPosition, Pooling, TransformerConfig


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
