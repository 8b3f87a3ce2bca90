"""Float64 reference implementations of every norm, written from the papers' formulas with plain tensor ops.

Nothing here calls normbench or torch's normalization ops: these are the independent side of every comparison.
Inputs are channel-first: (N, C) feature vectors, (N, C, *positions) conv maps; the step role is (N, F) at step
t, or (N, T, F) for steps t..t+T-1, processed one step at a time (so running statistics update in step order).
The tokens role is a Transformer's (N, T, D), features *last*: its formulas are written out separately
(`token_*`), over the dimensions the papers name (LN/RMS: each token over D; BN: each feature over N × T).

Each reference is `ref(x, params, running, ctx) -> y`:
  params   {"weight", "bias", "mean_weight", "var_weight"}: float64 tensors (requires_grad for gradient checks)
  running  {"mean", "var"}: float64 (slots, C) tensors updated in place, or None without running statistics
  ctx      Context: the role, train/eval, the first step t, and the norm's settings
"""

from dataclasses import dataclass, field

import torch


@dataclass
class Context:
    role: str
    training: bool
    t: int = 0
    slots: int = 1
    eps: float = 1e-5
    momentum: float = 0.1
    groups: int = 1
    virtual_batch_size: int = 32
    rmax: float = 1.0
    dmax: float = 0.0
    detach_correction: bool = True  # batch renorm: r and d without gradient, as the paper says
    extra: dict = field(default_factory=dict)


def moments(x: torch.Tensor, dims) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and biased variance over `dims`, kept broadcastable."""
    mean = x.mean(dim=dims, keepdim=True)
    return mean, ((x - mean) ** 2).mean(dim=dims, keepdim=True)


def batch_dims(x):  # each channel: across samples and positions
    return [0, *range(2, x.dim())]


def sample_dims(x):  # each sample: across channels and positions
    return list(range(1, x.dim()))


def position_dims(x):  # each sample and channel: across positions
    return list(range(2, x.dim()))


def per_channel(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(1, -1, *([1] * (like.dim() - 2)))


def affine(y: torch.Tensor, params: dict) -> torch.Tensor:
    if "weight" in params:
        y = y * per_channel(params["weight"], y)
    if "bias" in params:
        y = y + per_channel(params["bias"], y)
    return y


def over_steps(call, x: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Apply call(x_step, slot) per time step in the step role (slot = min(t, slots-1)), once elsewhere."""
    if ctx.role != "step":
        return call(x, 0)
    if x.dim() == 2:
        return call(x, min(ctx.t, ctx.slots - 1))
    return torch.stack([call(x[:, s], min(ctx.t + s, ctx.slots - 1)) for s in range(x.shape[1])], dim=1)


def unbiased(var: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    n = x.numel() // x.shape[1]
    return var * n / (n - 1)


def ema(old: torch.Tensor, new: torch.Tensor, momentum: float) -> torch.Tensor:
    """PyTorch's running-statistics rule: running = (1 − momentum)·running + momentum·batch."""
    return (1 - momentum) * old + momentum * new


def bn_step(xs, slot, params, running, ctx, update=True):
    """Ioffe & Szegedy: batch statistics in training (updating the running ones with the unbiased variance),
    running statistics in evaluation, batch statistics wherever there are no running ones."""
    if ctx.training or running is None:
        mean, var = moments(xs, batch_dims(xs))
        if ctx.training and running is not None and update:
            running["mean"][slot] = ema(running["mean"][slot], mean.detach().flatten(), ctx.momentum)
            running["var"][slot] = ema(running["var"][slot], unbiased(var.detach().flatten(), xs), ctx.momentum)
    else:
        mean, var = per_channel(running["mean"][slot], xs), per_channel(running["var"][slot], xs)
    return affine((xs - mean) / torch.sqrt(var + ctx.eps), params)


def token_affine(y: torch.Tensor, params: dict) -> torch.Tensor:
    """Gain and shift per feature, the last dimension of a token tensor."""
    if "weight" in params:
        y = y * params["weight"]
    if "bias" in params:
        y = y + params["bias"]
    return y


def token_batch(x, params, running, ctx):
    """Shen et al. 2020 (BN in Transformers): each feature d over the batch and the tokens, dims (0, 1); running
    variance updated with the unbiased variance of those N·T values, as PyTorch does."""
    if ctx.training or running is None:
        mean, var = moments(x, [0, 1])
        if ctx.training and running is not None:
            count = x.shape[0] * x.shape[1]
            running["mean"][0] = ema(running["mean"][0], mean.detach().flatten(), ctx.momentum)
            running["var"][0] = ema(running["var"][0], var.detach().flatten() * count / (count - 1), ctx.momentum)
    else:
        mean, var = running["mean"][0], running["var"][0]
    return token_affine((x - mean) / torch.sqrt(var + ctx.eps), params)


def token_layer(x, params, running, ctx):
    """Ba et al. 2016 per token: mean and variance over the D features of each token."""
    mean, var = moments(x, [-1])
    return token_affine((x - mean) / torch.sqrt(var + ctx.eps), params)


def token_rms(x, params, running, ctx):
    """Zhang & Sennrich 2019 per token: x / sqrt(mean over D of x² + ε) · g."""
    return token_affine(x / torch.sqrt((x**2).mean(dim=-1, keepdim=True) + ctx.eps), params)


def token_group(x, params, running, ctx):
    """Wu & He 2018 per token: the D features in G groups of D/G, each group's own mean and variance."""
    grouped = x.reshape(*x.shape[:-1], ctx.groups, -1)
    mean, var = moments(grouped, [-1])
    return token_affine(((grouped - mean) / torch.sqrt(var + ctx.eps)).reshape(x.shape), params)


def batch(x, params, running, ctx):
    if ctx.role == "tokens":
        return token_batch(x, params, running, ctx)
    return over_steps(lambda xs, slot: bn_step(xs, slot, params, running, ctx), x, ctx)


def batch_renorm(x, params, running, ctx):
    """Ioffe 2017, Algorithm 1."""

    def call(xs, slot):
        if not ctx.training or running is None:
            return bn_step(xs, slot, params, running, ctx)
        mean_b, var_b = moments(xs, batch_dims(xs))
        std_b = torch.sqrt(var_b + ctx.eps)
        mu = per_channel(running["mean"][slot], xs)
        sigma = torch.sqrt(per_channel(running["var"][slot], xs) + ctx.eps)
        r = torch.clamp(std_b / sigma, 1 / ctx.rmax, ctx.rmax)
        d = torch.clamp((mean_b - mu) / sigma, -ctx.dmax, ctx.dmax)
        if ctx.detach_correction:
            r, d = r.detach(), d.detach()
        y = (xs - mean_b) / std_b * r + d
        new_sigma = sigma + ctx.momentum * (std_b - sigma)  # the paper averages σ, not σ²
        running["mean"][slot] = (mu + ctx.momentum * (mean_b - mu)).detach().flatten()
        running["var"][slot] = (new_sigma**2 - ctx.eps).detach().flatten()
        return affine(y, params)

    return over_steps(call, x, ctx)


def ghost_sizes(batch_size: int, virtual: int) -> list[int]:
    """normbench's rule: consecutive virtual batches of `virtual`; a remainder is a smaller last one, except a
    single leftover sample, which joins the previous one."""
    if batch_size <= virtual:
        return [batch_size]
    sizes = [virtual] * (batch_size // virtual)
    rest = batch_size % virtual
    if rest == 1:
        sizes[-1] += 1
    elif rest:
        sizes.append(rest)
    return sizes


def ghost_batch(x, params, running, ctx):
    """Hoffer et al. 2017, Algorithm 1: BN on each virtual batch, running statistics updated per virtual batch."""

    def call(xs, slot):
        if not ctx.training:
            return bn_step(xs, slot, params, running, ctx)
        parts = xs.split(ghost_sizes(xs.shape[0], ctx.virtual_batch_size))
        return torch.cat([bn_step(part, slot, params, running, ctx) for part in parts])

    return over_steps(call, x, ctx)


def switch(x, params, running, ctx):
    """Luo et al. 2018, eqs. 3-5: softmax-weighted IN/LN/BN means and, separately, variances."""

    def call(xs, slot):
        stats = {"ln": moments(xs, sample_dims(xs))}
        if xs.dim() > 2:
            stats["in"] = moments(xs, position_dims(xs))
        if ctx.training or running is None:
            stats["bn"] = moments(xs, batch_dims(xs))
            if ctx.training and running is not None:
                mean, var = (s.detach().flatten() for s in stats["bn"])
                running["mean"][slot] = ema(running["mean"][slot], mean, ctx.momentum)
                running["var"][slot] = ema(running["var"][slot], unbiased(var, xs), ctx.momentum)
        else:
            stats["bn"] = (per_channel(running["mean"][slot], xs), per_channel(running["var"][slot], xs))
        sources = ("in", "ln", "bn") if xs.dim() > 2 else ("ln", "bn")
        mean_w = torch.softmax(params["mean_weight"], 0)
        var_w = torch.softmax(params["var_weight"], 0)
        mean = sum(mean_w[k] * stats[s][0] for k, s in enumerate(sources))
        var = sum(var_w[k] * stats[s][1] for k, s in enumerate(sources))
        y = (xs - mean) / torch.sqrt(var + ctx.eps)
        return affine(y, {k: v for k, v in params.items() if k in ("weight", "bias")})

    return over_steps(call, x, ctx)


def layer(x, params, running, ctx):
    """Ba et al. 2016: each sample across all its features (conv maps: channels × positions, gain per channel)."""
    if ctx.role == "tokens":
        return token_layer(x, params, running, ctx)

    def call(xs, slot):
        mean, var = moments(xs, sample_dims(xs))
        return affine((xs - mean) / torch.sqrt(var + ctx.eps), params)

    return over_steps(call, x, ctx)


def group(x, params, running, ctx):
    """Wu & He 2018: each sample across a group of C/G channels × positions."""
    if ctx.role == "tokens":
        return token_group(x, params, running, ctx)

    def call(xs, slot):
        grouped = xs.reshape(xs.shape[0], ctx.groups, -1)
        mean, var = moments(grouped, [2])
        return affine(((grouped - mean) / torch.sqrt(var + ctx.eps)).reshape(xs.shape), params)

    return over_steps(call, x, ctx)


def instance(x, params, running, ctx):
    """Ulyanov et al. 2016: each sample and channel across positions."""
    mean, var = moments(x, position_dims(x))
    return affine((x - mean) / torch.sqrt(var + ctx.eps), params)


def rms(x, params, running, ctx):
    """Zhang & Sennrich 2019: divide by the root mean square over the sample's features; gain only."""
    if ctx.role == "tokens":
        return token_rms(x, params, running, ctx)

    def call(xs, slot):
        mean_square = (xs**2).mean(dim=sample_dims(xs), keepdim=True)
        return affine(xs / torch.sqrt(mean_square + ctx.eps), params)

    return over_steps(call, x, ctx)


def none(x, params, running, ctx):
    return x


REFERENCES = {
    "batch": batch,
    "batch_renorm": batch_renorm,
    "ghost_batch": ghost_batch,
    "switch": switch,
    "layer": layer,
    "group": group,
    "instance": instance,
    "rms": rms,
    "none": none,
}
