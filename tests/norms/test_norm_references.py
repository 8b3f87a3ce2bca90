"""Every registered norm, in every role it declares, against the float64 formulas of norm_formulas.py.

Each case compares the forward output, the gradients of sum(y * R) (R fixed and random) with respect to the
input and every parameter, and the running statistics after the call: in training and in evaluation, in
float32 (relative error <= 1e-4) and float64 (<= 1e-5), with odd shapes, random parameters and random running
statistics, and without running statistics or affine parameters. Cases come from the registry, so a new norm
without a reference formula fails here.
"""

import zlib

import pytest
import torch

from normbench.norms import NORMS, ROLES, NormSite, create_norm
from tests.norms.norm_formulas import REFERENCES, Context

from .configs import norm_cfg

CHANNELS = 6
SLOTS = 3  # max_time_steps: small, so sequences run past it
# Per role: (input shape, first time step t). The step role is tested as a sequence that crosses
# max_time_steps, a single step beyond it, and a sequence that stays within it.
SHAPES = {
    "features": [((7, CHANNELS), 0)],
    "map1d": [((6, CHANNELS, 9), 0)],
    "map2d": [((5, CHANNELS, 3, 5), 0)],
    "step": [((6, 4, CHANNELS), 1), ((6, CHANNELS), 4), ((7, 2, CHANNELS), 0)],
    "tokens": [((5, 7, CHANNELS), 0)],  # (N, T, D): features last
}
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-5}
# Batch renorm's schedule in absolute steps: at step 4, rmax = 1 + 2·(4−2)/(6−2) = 2 and dmax = 1·(4−2)/(4−2) = 1.
RENORM = dict(renorm_schedule="absolute", renorm_warmup_steps=2, renorm_rmax_steps=6, renorm_dmax_steps=4,
              rmax=3.0, dmax=1.0)
RENORM_STEP, RENORM_LIMITS = 4, (2.0, 1.0)


def norm_settings(**overrides) -> dict:
    """The settings every norm is tested with (each norm's schema takes the ones it has)."""
    return {**dict(groups=2, max_time_steps=SLOTS, virtual_batch_size=3, momentum=0.2, eps=1e-5, **RENORM),
            **overrides}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    scale = expected.abs().max().item()
    return (actual.double() - expected).abs().max().item() / max(scale, 1e-12)


def randomize(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Parameters and running statistics away from their initial values, so each one matters."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            if name.endswith(("mean_weight", "var_weight")):
                param.copy_(noise)
            elif name.endswith("weight"):
                param.copy_(1 + 0.3 * noise)
            else:
                param.copy_(0.3 * noise)
        for name, buffer in module.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(1 + 0.5 * torch.randn(buffer.shape, generator=generator, dtype=torch.float64))
            elif name.endswith("running_var"):
                buffer.copy_(0.5 + 1.5 * torch.rand(buffer.shape, generator=generator, dtype=torch.float64))


def running_statistics(module: torch.nn.Module) -> dict | None:
    """The running statistics as float64 (slots, C) copies (PyTorch BN's (C,) as one slot), or None."""
    buffers = {name.rsplit(".", 1)[-1]: b for name, b in module.named_buffers() if "running_" in name}
    if not buffers:
        return None
    return {key: buffers[f"running_{key}"].detach().double().reshape(-1, CHANNELS).clone() for key in ("mean", "var")}


def parameters(module: torch.nn.Module) -> dict:
    return {name.rsplit(".", 1)[-1]: p for name, p in module.named_parameters()}


def context(settings: dict, role: str, training: bool, t: int) -> Context:
    return Context(role=role, training=training, t=t, slots=SLOTS if role == "step" else 1, eps=settings["eps"],
                   momentum=settings["momentum"], groups=settings["groups"],
                   virtual_batch_size=settings["virtual_batch_size"],
                   rmax=RENORM_LIMITS[0], dmax=RENORM_LIMITS[1])


def check_against_reference(name, role, shape, t, training, dtype, **overrides):
    settings = norm_settings(**overrides)
    cfg = norm_cfg(name, **settings)
    generator = torch.Generator().manual_seed(zlib.crc32(f"{name}{role}{shape}{training}{dtype}{overrides}".encode()))
    module = create_norm(cfg, NormSite(role, CHANNELS)).to(dtype)
    randomize(module, generator)
    if hasattr(module, "on_train_step"):
        module.on_train_step(RENORM_STEP, 100)
    module.train(training)
    params = parameters(module)
    running = running_statistics(module)

    x64 = 2 * torch.randn(shape, generator=generator, dtype=torch.float64) + 1
    weights = torch.randn(shape, generator=generator, dtype=torch.float64)
    x = x64.to(dtype).requires_grad_()
    y = module(x, t) if role == "step" else module(x)
    grads = torch.autograd.grad((y * weights.to(dtype)).sum(), [x, *params.values()])

    x_ref = x.detach().double().requires_grad_()
    params_ref = {key: p.detach().double().requires_grad_() for key, p in params.items()}
    y_ref = REFERENCES[name](x_ref, params_ref, running, context(settings, role, training, t))
    grads_ref = torch.autograd.grad((y_ref * weights).sum(), [x_ref, *params_ref.values()], allow_unused=True)

    tolerance = TOLERANCE[dtype]
    assert y.shape == x.shape
    assert relative_error(y, y_ref) <= tolerance, "forward output"
    for label, grad, grad_ref in zip(["input", *params], grads, grads_ref):
        if grad_ref is None:  # the formula does not use this parameter at all
            grad_ref = torch.zeros_like(grad, dtype=torch.float64)
        assert relative_error(grad, grad_ref) <= tolerance, f"gradient w.r.t. {label}"
    after = running_statistics(module)
    assert (after is None) == (running is None)
    if running is not None:
        for key in ("mean", "var"):
            assert relative_error(after[key], running[key]) <= tolerance, f"running {key}"


def cases():
    for name, spec in sorted(NORMS.entries().items()):
        for role in sorted(spec.traits.roles):
            for shape, t in SHAPES[role]:
                for training in (True, False):
                    for dtype in (torch.float32, torch.float64):
                        yield pytest.param(name, role, shape, t, training, dtype, {},
                                           id=f"{name}-{role}-{list(shape)}-t{t}-{'train' if training else 'eval'}-{str(dtype)[6:]}")
                    if spec.traits.batch_dependent:
                        yield pytest.param(name, role, shape, t, training, torch.float64,
                                           {"track_running_stats": False},
                                           id=f"{name}-{role}-{list(shape)}-t{t}-{'train' if training else 'eval'}-untracked")
                yield pytest.param(name, role, shape, t, True, torch.float64, {"affine": False},
                                   id=f"{name}-{role}-{list(shape)}-t{t}-train-no_affine")


@pytest.mark.parametrize("name, role, shape, t, training, dtype, overrides", list(cases()))
def test_norm_matches_reference_formula(name, role, shape, t, training, dtype, overrides):
    check_against_reference(name, role, shape, t, training, dtype, **overrides)


def test_every_registered_norm_has_a_reference_formula_and_every_role_a_shape():
    assert set(NORMS.names()) <= set(REFERENCES), "a registered norm has no reference formula in norm_formulas.py"
    assert set(SHAPES) == set(ROLES)


def test_reference_check_catches_a_wrong_running_variance():
    """The harness can fail: the same check against a BN whose running variance takes the biased batch
    variance (a common slip) is off by far more than the tolerance."""

    class BiasedRunningBN(torch.nn.BatchNorm1d):
        def forward(self, x):
            if self.training:
                with torch.no_grad():
                    self.running_var.mul_(1 - self.momentum).add_(self.momentum * x.var(0, unbiased=False))
                    self.running_mean.lerp_(x.mean(0), self.momentum)
                return torch.nn.functional.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
            return super().forward(x)

    spec = NORMS.get("batch")
    original = spec.build
    object.__setattr__(spec, "build", lambda cfg, site: BiasedRunningBN(site.num_features, momentum=cfg.momentum))
    try:
        with pytest.raises(AssertionError, match="running var"):
            check_against_reference("batch", "features", (7, CHANNELS), 0, True, torch.float64)
    finally:
        object.__setattr__(spec, "build", original)
