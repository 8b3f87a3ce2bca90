"""The evaluation options of the BN family (running / batch / precise) and the scalars the norms log."""

import pytest
import torch
from torch import nn

from normbench.errors import ConfigError
from normbench.norms import NORMS, NormSite, create_norm
from normbench.norms.layers.eval_stats import (
    evaluation_statistics,
    has_batch_statistics,
    norm_scalars,
    recompute_precise_statistics,
)
from tests.norms.norm_formulas import REFERENCES, Context, moments

from .configs import norm_cfg

BN_FAMILY = ("batch", "batch_renorm", "ghost_batch", "switch")
SHAPES = {"features": (10, 4), "map2d": (6, 4, 3, 3), "step": (7, 5, 4)}
SLOTS = 3


class StepCaller(nn.Module):
    """A norm in the step role called on a whole sequence, as the RNN's input-to-hidden norm is."""

    def __init__(self, norm: nn.Module, t: int = 0):
        super().__init__()
        self.norm, self.t = norm, t

    def forward(self, x):
        return self.norm(x, self.t)


def build(name: str, role: str, channels: int = 4, **settings) -> nn.Module:
    cfg = norm_cfg(name, max_time_steps=SLOTS, virtual_batch_size=4, **settings)
    return create_norm(cfg, NormSite(role, channels)).double()


def randomize_running(norm: nn.Module) -> None:
    with torch.no_grad():
        norm.running_mean.copy_(torch.linspace(-1, 1, norm.running_mean.numel()).view_as(norm.running_mean))
        norm.running_var.copy_(torch.linspace(0.5, 3, norm.running_var.numel()).view_as(norm.running_var))


def snapshot(module: nn.Module) -> dict:
    return {key: value.clone() for key, value in module.state_dict().items()}


def assert_same_state(module: nn.Module, before: dict) -> None:
    after = module.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        assert torch.equal(after[key], before[key]), key


def reference(name, role, norm, x, running):
    params = {key.rsplit(".", 1)[-1]: p.detach() for key, p in norm.named_parameters()}
    ctx = Context(role=role, training=False, slots=SLOTS if role == "step" else 1, eps=norm.eps,
                  virtual_batch_size=4)
    return REFERENCES[name](x, params, running, ctx)


def as_model(norm, role):
    return StepCaller(norm) if role == "step" else nn.Sequential(norm)


@pytest.mark.parametrize("role", list(SHAPES))
@pytest.mark.parametrize("name", BN_FAMILY)
def test_batch_statistics_mode_normalizes_with_the_evaluation_batch_and_restores_everything(name, role):
    norm = build(name, role)
    randomize_running(norm)
    model = as_model(norm, role).train()  # the caller's mode, to be given back
    buffers = dict(norm.named_buffers())
    before = snapshot(model)
    x = torch.randn(SHAPES[role], dtype=torch.float64) * 2 + 1
    with evaluation_statistics(model, "batch"):
        assert not norm.training
        y = model(x)
    assert torch.allclose(y, reference(name, role, norm, x, None), atol=1e-10)
    assert not torch.allclose(y, reference(name, role, norm, x, running_of(norm)), atol=1e-3)
    assert_same_state(model, before)
    assert all(getattr(norm, key) is tensor for key, tensor in buffers.items())  # the very same buffers
    assert norm.training and model.training


@pytest.mark.parametrize("role", list(SHAPES))
@pytest.mark.parametrize("name", BN_FAMILY)
def test_running_statistics_mode_is_ordinary_evaluation(name, role):
    norm = build(name, role)
    randomize_running(norm)
    model = as_model(norm, role)
    before = snapshot(model)
    x = torch.randn(SHAPES[role], dtype=torch.float64) * 2 + 1
    with evaluation_statistics(model, "running"):
        y = model(x)
    assert torch.allclose(y, reference(name, role, norm, x, running_of(norm)), atol=1e-10)
    assert_same_state(model, before)


def running_of(norm):
    return {"mean": norm.running_mean.detach().reshape(-1, 4).clone(), "var": norm.running_var.detach().reshape(-1, 4).clone()}


def test_state_is_restored_when_evaluation_raises():
    norm = build("batch", "map2d")
    randomize_running(norm)
    model = nn.Sequential(norm).train()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="boom"), evaluation_statistics(model, "batch"):
        model(torch.randn(4, 4, 3, 3, dtype=torch.float64))
        raise RuntimeError("boom")
    assert_same_state(model, before)
    assert norm.running_mean is not None and norm.training


def test_unknown_evaluation_mode_is_refused():
    with pytest.raises(ConfigError, match="running, batch"), \
            evaluation_statistics(nn.Sequential(build("batch", "features")), "precise"):
        pass


def test_has_batch_statistics_agrees_with_the_registry_for_every_norm():
    for name, spec in NORMS.entries().items():
        role = "map1d" if "map1d" in spec.traits.roles else "features"
        model = nn.Sequential(nn.Conv1d(2, 4, 3), create_norm(norm_cfg(name, groups=2), NormSite(role, 4)))
        assert has_batch_statistics(model) == spec.traits.batch_dependent, name


def precise_expected(inputs: list[torch.Tensor], dims) -> tuple[torch.Tensor, torch.Tensor]:
    """Wu & Johnson's formula over equal-sized batches: μ_pop = mean μ_b, σ²_pop = mean(μ_b² + σ²_b) − μ_pop²
    (σ²_b biased), times n/(n−1) for the unbiased convention of running_var."""
    stats = [moments(a, dims) for a in inputs]
    mu = torch.stack([m.flatten() for m, _ in stats])
    var = torch.stack([v.flatten() for _, v in stats])
    mu_pop = mu.mean(0)
    n = sum(a.numel() // a.shape[1] for a in inputs)
    return mu_pop, ((mu**2 + var).mean(0) - mu_pop**2) * n / (n - 1)


@pytest.mark.parametrize("name", BN_FAMILY)
def test_precise_statistics_follow_the_formula_and_leave_the_model_as_it_was(name):
    torch.manual_seed(0)
    first, second = build(name, "features", 6), build(name, "features", 3)
    model = nn.Sequential(nn.Linear(5, 6), first, nn.ReLU(), nn.Linear(6, 3), second).double()
    for norm in (first, second):
        randomize_running(norm)
    model.eval()
    model[3].train()  # an odd mix of flags, to be given back as it was
    seen = {first: [], second: []}
    for norm in seen:  # the test's own record of each layer's inputs during the pass
        norm.register_forward_pre_hook(lambda module, args: seen[module].append((args[0].clone(), module.training)))
    params = {key: value.clone() for key, value in model.named_parameters()}
    other_buffers = {key: value.clone() for key, value in model.named_buffers() if "running_" not in key}
    batches = [torch.randn(8, 5, dtype=torch.float64) * 2 + 1 for _ in range(4)]

    recompute_precise_statistics(model, batches)

    for norm in (first, second):
        assert len(seen[norm]) == 4 and all(training for _, training in seen[norm])  # train mode in the pass
        mean, var = precise_expected([x for x, _ in seen[norm]], [0])
        assert torch.allclose(norm.running_mean.flatten(), mean, atol=1e-12)
        assert torch.allclose(norm.running_var.flatten(), var, atol=1e-12)
    if name == "batch":  # upstream layers normalized with batch statistics while the inputs were gathered
        a = model[0](batches[0])
        mean, var = moments(a, [0])
        h = torch.relu((a - mean) / torch.sqrt(var + 1e-5) * first.weight + first.bias)
        assert torch.allclose(seen[second][0][0], model[3](h), atol=1e-12)
    assert [m.training for m in model] == [False, False, False, True, False]
    for key, value in model.named_parameters():
        assert torch.equal(value, params[key]), key
    for key, value in model.named_buffers():
        if key in other_buffers:
            assert torch.equal(value, other_buffers[key]), key


def test_precise_statistics_are_per_time_step_with_the_last_slot_pooling_later_steps():
    norm = build("batch", "step", 4)
    randomize_running(norm)
    untouched = build("batch", "step", 4)
    randomize_running(untouched)
    batches = [torch.randn(6, 5, 4, dtype=torch.float64) * 2 + torch.arange(5.0).view(1, 5, 1) for _ in range(3)]
    recompute_precise_statistics(StepCaller(norm), batches)
    for slot, steps in ((0, [0]), (1, [1]), (2, [2, 3, 4])):
        inputs = [b[:, s] for b in batches for s in steps]
        mean, var = precise_expected(inputs, [0])
        assert torch.allclose(norm.running_mean[slot], mean, atol=1e-12)
        assert torch.allclose(norm.running_var[slot], var, atol=1e-12)
    # A sequence of 2 steps from t=0 never reaches slot 2: it keeps its running statistics.
    before = untouched.running_mean.clone(), untouched.running_var.clone()
    recompute_precise_statistics(StepCaller(untouched), [b[:, :2] for b in batches])
    assert torch.equal(untouched.running_mean[2], before[0][2]) and torch.equal(untouched.running_var[2], before[1][2])
    assert not torch.equal(untouched.running_mean[:2], before[0][:2])


def test_precise_statistics_with_unequal_batches_are_those_of_all_values_pooled():
    norm = build("batch", "map2d", 4)
    batches = [torch.randn(size, 4, 3, 2, dtype=torch.float64) * 3 - 1 for size in (8, 8, 3)]
    recompute_precise_statistics(nn.Sequential(norm), batches)
    pooled = torch.cat(batches).transpose(0, 1).reshape(4, -1)
    assert torch.allclose(norm.running_mean, pooled.mean(1), atol=1e-12)
    assert torch.allclose(norm.running_var, pooled.var(1, unbiased=True), atol=1e-12)
    assert norm.num_batches_tracked.item() == 0


def test_precise_statistics_are_not_the_mean_of_unbiased_batch_variances():
    """The slip the docstring warns about: at batch size 2 it overstates the variance by about half."""
    norm = build("batch", "features", 4)
    batches = [torch.randn(2, 4, dtype=torch.float64) for _ in range(400)]
    recompute_precise_statistics(nn.Sequential(norm), batches)
    all_values = torch.cat(batches)
    slip = torch.stack([b.mean(0) ** 2 + b.var(0, unbiased=True) for b in batches]).mean(0) - all_values.mean(0) ** 2
    assert torch.allclose(norm.running_var, all_values.var(0), atol=1e-12)
    assert (slip / norm.running_var).mean() > 1.3


def test_models_without_batch_statistics_are_left_alone():
    model = nn.Sequential(create_norm(norm_cfg("layer"), NormSite("features", 4)))
    before = snapshot(model)
    recompute_precise_statistics(model, [torch.randn(3, 4)])
    with evaluation_statistics(model, "batch"):
        model(torch.randn(3, 4))
    assert_same_state(model, before)
    assert not has_batch_statistics(model)


def test_norm_scalars_report_switch_mixtures_and_renorm_limits():
    model = nn.Sequential(build("switch", "features", 4), nn.ReLU(), build("switch", "map2d", 4),
                          build("batch_renorm", "features", 4), build("batch_renorm", "features", 4))
    model[3].on_train_step(6000, 6000)
    model[4].on_train_step(6000, 6000)
    scalars = norm_scalars(model)
    assert set(scalars) == {
        "switch.0.mean.ln", "switch.0.mean.bn", "switch.0.var.ln", "switch.0.var.bn",
        *(f"switch.2.{kind}.{source}" for kind in ("mean", "var") for source in ("in", "ln", "bn")),
        "batch_renorm.rmax", "batch_renorm.dmax",
    }
    assert scalars["switch.2.mean.in"] == pytest.approx(1 / 3)
    assert (scalars["batch_renorm.rmax"], scalars["batch_renorm.dmax"]) == (3.0, 5.0)
    assert norm_scalars(nn.Sequential(build("layer", "features", 4))) == {}
