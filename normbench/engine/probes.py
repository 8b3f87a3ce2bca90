"""Loss-landscape probes along the gradient (Santurkar et al. 2018, "How Does Batch Normalization Help
Optimization?", Fig. 4).

At a training step with parameters θ and gradient g = ∇L(θ) on the current batch, for step sizes η on a
log grid around the learning rate:
    loss_variation      = max_η L(θ − ηg) − min_η L(θ − ηg)
    grad_predictiveness = max_η ‖∇L(θ) − ∇L(θ − ηg)‖₂ − min_η ‖∇L(θ) − ∇L(θ − ηg)‖₂
    beta_smoothness     = max_η ‖∇L(θ) − ∇L(θ − ηg)‖₂ / ‖ηg‖₂
All evaluated on the same batch, in train mode (as the optimizer sees the loss). Parameters, gradients,
buffers (BN running statistics) and the RNG are restored exactly afterwards: a probed run trains
bit-for-bit like an unprobed one.
"""

import math

import torch
import torch.nn.functional as F


def step_sizes(lr: float, min_scale: float, max_scale: float, points: int) -> list[float]:
    if points == 1:
        return [lr * min_scale]
    ratio = (max_scale / min_scale) ** (1 / (points - 1))
    return [lr * min_scale * ratio**i for i in range(points)]


def _norm(tensors) -> float:
    return math.sqrt(sum(float(t.pow(2).sum()) for t in tensors))


def probe_landscape(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, etas: list[float]) -> dict[str, float]:
    params = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
    grad = [p.grad.detach().clone() for p in params]
    origin = [p.detach().clone() for p in params]
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    rng = torch.get_rng_state()
    grad_norm = _norm(grad)
    losses, changes, ratios = [], [], []
    try:
        for eta in etas:
            with torch.no_grad():
                for p, p0, g in zip(params, origin, grad):
                    p.copy_(p0 - eta * g)
            loss = F.cross_entropy(model(x), y)
            moved = torch.autograd.grad(loss, params)
            change = _norm([m - g for m, g in zip(moved, grad)])
            losses.append(loss.item())
            changes.append(change)
            ratios.append(change / (eta * grad_norm) if grad_norm > 0 else 0.0)
            _restore_buffers(model, buffers)
    finally:
        with torch.no_grad():
            for p, p0, g in zip(params, origin, grad):
                p.copy_(p0)
                p.grad = g
        _restore_buffers(model, buffers)
        torch.set_rng_state(rng)
    return {
        "loss_variation": max(losses) - min(losses),
        "grad_predictiveness": max(changes) - min(changes),
        "beta_smoothness": max(ratios),
    }


def _restore_buffers(model: torch.nn.Module, saved: dict) -> None:
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            buffer.copy_(saved[name])
