"""Norms in models normbench did not write: a `norm_layer` for any channels-first tensor, and norm swapping.

Both need to know the rank of the tensor a norm site sees, which a constructor does not say (a BatchNorm1d
or a GroupNorm may meet (N, C) or (N, C, L); a user's `norm_layer(C)` any of (N, C), (N, C, L), (N, C, H, W)).
The parameters must exist before the optimizer is built, so a site cannot wait for its first real batch.
So each such site first holds a `PendingNorm` (an identity that records the shape it sees); one dry run of
the model on two random samples tells every site its rank, and each is then replaced by the selected norm
built for that role:

  rank 2 (N, C)          role features
  rank 3 (N, C, L)       role map1d
  rank 4 (N, C, H, W)    role map2d
  rank 5+ (N, C, D, ...) role map1d over the flattened positions (every normbench map norm takes its
                         statistics over all positions alike, so flattening them changes nothing)

An `nn.LayerNorm` over the last dimension (tokens (N, T, D), a feature vector (N, D)) is channels-last:
its replacement normalizes each token's D features (role features over N*T rows), as LN did; BN there
takes its statistics over N x T per feature (as PowerNorm, Shen et al. 2020, defines BN for tokens).

A swapped model is returned inside `NormSwapped`, which carries the list of swaps for the engine to record
(norms.json): the engine checks `isinstance(model, NormSwapped)`.
"""

from dataclasses import asdict, dataclass

import torch
from torch import nn

from normbench.errors import ConfigError

# What swap_norms replaces: these exact classes (subclasses such as torchvision's LayerNorm2d, which permutes
# inside its forward, are not taken for their base: see `_refuse_unknown_norm_subclasses`).
SWAPPABLE = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d,
             nn.InstanceNorm3d, nn.LayerNorm)
_NORM_BASES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)

ROLE_OF_RANK = {2: "features", 3: "map1d", 4: "map2d"}
CHANNELS_FIRST, CHANNELS_LAST = "channels_first", "channels_last"


@dataclass(frozen=True)
class NormSwap:
    """One replaced norm site: where it is in the model, what it was, what replaced it, for how many channels."""

    module: str
    original: str
    replacement: str
    channels: int
    role: str


class NormSwapped(nn.Module):
    """A model whose norms normbench swapped: the model itself (`net`) and the record of its swaps."""

    def __init__(self, net: nn.Module, swaps: list[NormSwap]):
        super().__init__()
        self.net = net
        self.swaps = list(swaps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def swap_records(self) -> list[dict]:
        return [asdict(swap) for swap in self.swaps]


class PendingNorm(nn.Module):
    """A norm site waiting for its rank: an identity that records the shape of what it sees."""

    def __init__(self, channels: int, layout: str = CHANNELS_FIRST, hint: int | None = None, original: str = ""):
        super().__init__()
        self.channels, self.layout, self.hint, self.original = channels, layout, hint, original
        self.seen_rank: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[-1] if self.layout == CHANNELS_LAST else (x.shape[1] if x.dim() > 1 else -1)
        if channels != self.channels:
            where = "last" if self.layout == CHANNELS_LAST else "second (channels-first)"
            raise ConfigError(f"a norm for {self.channels} channels got a tensor of shape {list(x.shape)}, whose "
                              f"{where} dimension is not {self.channels}")
        self.seen_rank = x.dim()
        return x

    def extra_repr(self) -> str:
        return f"{self.channels}, layout={self.layout}"


class FlattenPositions(nn.Module):
    """(N, C, D, H, W, ...) -> the norm on (N, C, D*H*W*...) -> back: a map norm over flattened positions."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.flatten(2)).view(x.shape)


class PerToken(nn.Module):
    """(..., D) -> the norm on (rows, D) -> back: a channels-last norm normalizing each token's D features."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.reshape(-1, x.shape[-1])).view(x.shape)


def channels_first_norm_layer(sites: list[PendingNorm]):
    """A torchvision-style `norm_layer(num_features)`: a pending site, resolved by `resolve_pending`."""

    def norm_layer(num_features: int, *args, **kwargs) -> nn.Module:
        site = PendingNorm(int(num_features))
        sites.append(site)
        return site

    return norm_layer


def dry_run(model: nn.Module, shape, owner: str) -> torch.Tensor:
    """One forward pass in train mode on two random samples, on the model itself: pending sites are
    identities, and a norm normbench did not place would only update its running statistics, which the
    swap replaces anyway; callers pass models whose norms are all pending."""
    with torch.no_grad():
        try:
            return model(torch.randn(2, *shape))
        except ConfigError:
            raise
        except Exception as error:  # a user's model: any failure is a message, not a traceback
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError(f"{owner} fails on input shape [2, {', '.join(map(str, shape))}]: "
                              f"{type(error).__name__}: {reason}") from None


def check_output(out, spec, owner: str) -> None:
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, spec.num_classes):
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"{owner} must return logits of shape [N, num_classes] = [2, {spec.num_classes}] for "
                          f"a batch of 2; it returned {got}")


def resolve_pending(model: nn.Module, make_norm, owner: str) -> list[NormSwap]:
    """Replace every PendingNorm in `model` by the selected norm for the rank it saw; returns what was placed."""
    placed = []
    built: dict[int, nn.Module] = {}
    for path, site in _named_modules_of(model, PendingNorm):
        if id(site) not in built:
            built[id(site)] = _build_for(site, make_norm, owner, path)
        norm = built[id(site)]
        _set_module(model, path, norm)
        inner = norm.norm if isinstance(norm, (FlattenPositions, PerToken)) else norm
        placed.append(NormSwap(path, site.original, type(inner).__name__, site.channels, _role_name(site)))
    return placed


def pending_count(model: nn.Module) -> int:
    return len({id(module) for _, module in _named_modules_of(model, PendingNorm)})


def swap_norms(model: nn.Module, spec, make_norm, owner: str) -> NormSwapped:
    """Replace every norm of `model` (the SWAPPABLE classes) by the selected norm for the same channels and
    layout (`norm=none`: identities), and return the model with the record of its swaps."""
    _refuse_unknown_norm_subclasses(model, owner)
    found = [(path, module) for path, module in model.named_modules() if type(module) in SWAPPABLE]
    if not found:
        raise ConfigError(f"{owner} with model.swap_norms=true: the model has no norm to swap (no BatchNorm1d/2d/3d, "
                          f"GroupNorm, InstanceNorm1d/2d/3d or LayerNorm module); build it with norm_layer instead, "
                          f"or set model.swap_norms=false")
    for path, module in found:
        _set_module(model, path, _pending_for(module))
    check_output(dry_run(model, spec.shape, owner), spec, owner)
    return NormSwapped(model, resolve_pending(model, make_norm, owner))


def _pending_for(module: nn.Module) -> PendingNorm:
    name = type(module).__name__
    if isinstance(module, nn.LayerNorm):
        shape = tuple(module.normalized_shape)
        if len(shape) == 1:
            return PendingNorm(shape[0], CHANNELS_LAST, hint=2, original=name)
        return PendingNorm(shape[0], CHANNELS_FIRST, hint=len(shape) + 1, original=name)
    if isinstance(module, nn.GroupNorm):
        return PendingNorm(module.num_channels, hint=4, original=name)
    hint = {"1d": 2, "2d": 4, "3d": 5}[name[-2:]]
    return PendingNorm(module.num_features, hint=hint, original=name)


def _rank(site: PendingNorm) -> int:
    return site.seen_rank if site.seen_rank is not None else (site.hint or 4)


def _role_name(site: PendingNorm) -> str:
    if site.layout == CHANNELS_LAST:
        return "features (per token)" if _rank(site) > 2 else "features"
    rank = _rank(site)
    return ROLE_OF_RANK.get(rank, "map1d (positions flattened)")


def _build_for(site: PendingNorm, make_norm, owner: str, path: str) -> nn.Module:
    rank = _rank(site)
    if rank < 2:
        raise ConfigError(f"{owner}: the norm at {path} got a tensor of rank {rank}; norms need (N, C, ...)")
    if site.layout == CHANNELS_LAST:
        norm = make_norm("features", site.channels)
        return norm if rank == 2 or make_norm.name == "none" else PerToken(norm)
    if rank in ROLE_OF_RANK:
        return make_norm(ROLE_OF_RANK[rank], site.channels)
    norm = make_norm("map1d", site.channels)
    return norm if make_norm.name == "none" else FlattenPositions(norm)


def _named_modules_of(model: nn.Module, cls) -> list[tuple[str, nn.Module]]:
    """Every (path, module) of class `cls`, shared modules under each of their names."""
    return [(path, module) for path, module in model.named_modules(remove_duplicate=False) if isinstance(module, cls)]


def _set_module(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, module)


def _refuse_unknown_norm_subclasses(model: nn.Module, owner: str) -> None:
    for path, module in model.named_modules():
        if isinstance(module, _NORM_BASES) and type(module) not in SWAPPABLE:
            raise ConfigError(
                f"{owner} with model.swap_norms=true: {path} is a {type(module).__module__}.{type(module).__name__}, "
                f"a norm class normbench cannot swap for the same layout (it swaps exactly "
                f"{', '.join(cls.__name__ for cls in SWAPPABLE)})"
            )

