"""The `tokens` role: a Transformer's (N, T, D) token tensor, features last.

LayerNorm and RMSNorm already act over the last dimension. Norms written for (N, C) feature vectors
(BatchNorm1d, GroupNorm) see the tokens as N·T rows of D features: BN then takes each feature's statistics
over batch × tokens, as Shen et al. (2020, PowerNorm) define BN for Transformers, and GN groups the D
features of each token.
"""

import torch
from torch import nn


class TokenRows(nn.Module):
    """Applies a feature-vector norm to (N, T, D) tokens as N·T rows of D features."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)
