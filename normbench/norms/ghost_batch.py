"""Ghost Batch Normalization (Hoffer, Hubara & Soudry 2017, "Train longer, generalize better").

Training cuts the batch, in order, into virtual ("ghost") batches of `virtual_batch_size` samples and applies
BN to each one separately: its own mean and biased variance, the shared γ and β. The running statistics are
updated once per virtual batch, in order, with PyTorch's BN rule (EMA with momentum of the unbiased variance),
so a step with k virtual batches applies k EMA updates. Evaluation uses the running statistics.

A batch that does not divide: the remainder forms a smaller last virtual batch, except a remainder of one
sample, which joins the previous virtual batch (a one-sample batch has no variance to normalize by on a
feature vector). A batch of at most `virtual_batch_size` samples is one virtual batch: plain BN.
Without running statistics (track_running_stats=False, or `evaluation_statistics(..., "batch")`),
evaluation normalizes with the statistics of the whole evaluation batch, not of virtual batches.

This module holds the schema, the cut into virtual batches and the builder; the layer is in layers/ghost_batch.py.
"""

from dataclasses import dataclass

from normbench.config.options import at_least
from normbench.errors import ConfigError
from normbench.norms._registry import register_norm
from normbench.norms.batch import BatchNormConfig, family_options


@dataclass
class GhostBatchConfig(BatchNormConfig):
    virtual_batch_size: int = 32  # the virtual batches the real batch is cut into in training

    def check(self) -> None:
        super().check()
        at_least(self.virtual_batch_size, 2, "norm.virtual_batch_size")


def virtual_batch_sizes(batch: int, virtual: int) -> list[int]:
    """Sizes of the consecutive virtual batches a batch of `batch` samples is cut into."""
    full, remainder = divmod(batch, virtual)
    if full == 0:
        return [batch]
    sizes = [virtual] * full
    if remainder == 1:
        sizes[-1] += 1
    elif remainder:
        sizes.append(remainder)
    return sizes


@register_norm("ghost_batch", roles=("features", "map1d", "map2d", "step"), batch_dependent=True,
               config=GhostBatchConfig)
def build(cfg: GhostBatchConfig, site):
    if cfg.virtual_batch_size < 2:
        raise ConfigError(f"norm.virtual_batch_size={cfg.virtual_batch_size} must be >= 2: BN needs two samples")
    # torch: imported when a model is built, not when a config is checked
    from normbench.norms.layers.ghost_batch import GhostBatchNorm

    return GhostBatchNorm(site.num_features, cfg.virtual_batch_size, **family_options(cfg, site))
