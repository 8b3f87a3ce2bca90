"""`data.augment=standard`: the CIFAR recipe, a random crop with 4 px of zero padding and a horizontal flip
(p = 1/2) of every training image, applied on the device to each batch.

The draws come from a generator of the augmentation's own, seeded from the run's seed, so the batch order is
that of `augment=none`; they are made on the CPU (like the batch order), so a seed crops and flips alike on
every device; the generator's state is part of the batches' state_dict, so a resumed run equals an
uninterrupted one. The padding is zero after standardization, i.e. the training set's mean.
"""

import numpy as np
import torch
import torch.nn.functional as F

from normbench.config.options import Augment
from normbench.data.pipeline.batches import Batches
from normbench.errors import ConfigError

PAD = 4  # pixels of padding on each side: crops are offset by 0..2*PAD in each direction
_STREAM = 0x617567  # tells the augmentation's seed apart from every other use of the run's seed


def augmented(batches: Batches, augment: Augment, shape, seed: int) -> Batches:
    """`batches` as they are (augment=none), or cropped and flipped; refuses data that are not images."""
    if augment is Augment.none:
        return batches
    if len(shape) != 3:
        raise ConfigError(f"data.augment={augment.name} crops and flips images of shape [C, H, W]; these samples "
                          f"have shape {list(shape)}: use data.augment=none")
    return CropFlipBatches(batches, seed)


def crop_flip(x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, pad: int = PAD) -> torch.Tensor:
    """Images x (N, C, H, W), each padded by `pad` zeros on every side and cut back to H x W at
    offsets[n] = (top, left) in 0..2*pad, then mirrored left-right where flips[n]."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (N, H): the padded rows each output row takes
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # (N, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    picked_rows = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * pad))
    return picked_rows.gather(3, cols[:, None, None, :].expand(n, c, h, w))


class CropFlipBatches:
    """Each batch of `batches` randomly cropped and flipped, on its device."""

    def __init__(self, batches: Batches, seed: int):
        self.batches, self.per_epoch = batches, batches.per_epoch
        stream_seed = int(np.random.SeedSequence([seed, _STREAM]).generate_state(1, dtype=np.uint64)[0])
        self.generator = torch.Generator().manual_seed(stream_seed)

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next `n` samples' crop offsets (N, 2) and flips (N,), on the CPU."""
        offsets = torch.randint(0, 2 * PAD + 1, (n, 2), generator=self.generator)
        flips = torch.randint(0, 2, (n,), generator=self.generator).bool()
        return offsets, flips

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.batches.next()
        offsets, flips = self.draw(len(x))
        return crop_flip(x, offsets.to(x.device), flips.to(x.device)), y

    def state_dict(self) -> dict:
        return {**self.batches.state_dict(), "augment_generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)
        self.generator.set_state(state["augment_generator"])
