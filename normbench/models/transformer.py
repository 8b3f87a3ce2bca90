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
This module holds the schema and the builder; the network is in nets/transformer.py.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Optional

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

    def norm_roles(self, shape: tuple) -> Optional[frozenset]:
        return frozenset({"tokens"})

    def check(self) -> None:
        for key in ("d_model", "heads", "layers", "ffn_mult", "patch_size"):
            positive(getattr(self, key), f"model.{key}")
        within(self.dropout, 0.0, 0.99, "model.dropout")
        if self.d_model % self.heads:
            divisors = [h for h in range(1, self.d_model + 1) if self.d_model % h == 0]
            raise ConfigError(f"model.heads={self.heads} does not divide model.d_model={self.d_model}; "
                              f"choose one of: {', '.join(map(str, divisors))}")


@register_model("transformer", config=TransformerConfig, capturable=True)
def build(cfg: TransformerConfig, spec, make_norm):
    from normbench.models.nets.transformer import Transformer  # torch: imported when a model is built

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
