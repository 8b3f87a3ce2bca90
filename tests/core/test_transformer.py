"""model=transformer: parameter counts by formula, where the norms sit in Pre-LN and Post-LN (read off the
forward pass, not the config), patches, refusals, and short training runs with every norm that has the
tokens role."""

import pytest
import torch
import torch.nn.functional as F

from normbench.config.validate import validate
from normbench.engine.build import build
from normbench.engine.run import run_experiment
from normbench.errors import ConfigError
from normbench.models import InputSpec, build_model
from normbench.models.nets.transformer import Patches
from normbench.norms import NormFactory
from normbench.rundir.identity import run_name

MNIST1D, DIGITS = InputSpec((1, 40), 10), InputSpec((1, 8, 8), 10)
TOKEN_NORMS = ("layer", "rms", "batch", "group", "none")
# Learned values per feature of each norm on D features: LN and BN a gain and a shift, RMSNorm a gain only (no
# mean to shift back), GN a gain and shift per feature, none nothing.
NORM_PARAMS = {"layer": 2, "rms": 1, "batch": 2, "group": 2, "none": 0}


def _build(make_cfg, *overrides, spec=MNIST1D):
    options = validate(make_cfg("model=transformer", *overrides))
    torch.manual_seed(0)
    return build_model(options.model, spec, NormFactory(options.norm, owner="model=transformer"))


def expected_parameters(d, layers, ffn_mult, patch_values, tokens, classes, norm, final_norm, cls):
    """Counted from the architecture: patch embedding, positions (and class token), per block Q/K/V and output
    projections, the feed-forward net and two norms, an optional final norm, the head."""
    hidden = ffn_mult * d
    norm_params = NORM_PARAMS[norm] * d
    block = (d * 3 * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d) + 2 * norm_params
    embedding = patch_values * d + d + (tokens + cls) * d + cls * d
    return embedding + layers * block + final_norm * norm_params + d * classes + classes


@pytest.mark.parametrize("norm", TOKEN_NORMS)
@pytest.mark.parametrize("position, pooling, spec, patch", [
    ("pre", "mean", MNIST1D, 4), ("post", "cls", MNIST1D, 5), ("pre", "cls", DIGITS, 2), ("post", "mean", DIGITS, 4),
])
def test_parameter_count_matches_the_architecture(make_cfg, norm, position, pooling, spec, patch):
    model = _build(make_cfg, f"norm={norm}", "norm.groups=4" if norm == "group" else "norm.eps=1e-5",
                   f"model.norm_position={position}", f"model.pooling={pooling}", f"model.patch_size={patch}",
                   "model.d_model=32", "model.layers=3", "model.ffn_mult=3", spec=spec)
    channels, *positions = spec.shape
    tokens, patch_values = 1, channels
    for size in positions:
        tokens, patch_values = tokens * (size // patch), patch_values * patch
    expected = expected_parameters(32, 3, 3, patch_values, tokens, 10, norm, final_norm=position == "pre",
                                   cls=pooling == "cls")
    assert sum(p.numel() for p in model.parameters()) == expected


def test_default_model_on_mnist1d_has_the_counted_parameters(make_cfg):
    # d_model 64, 4 layers, ffn 2x, patches of 4 (10 tokens), LN, Pre-LN with a final norm, mean pooling.
    model = _build(make_cfg, "norm=layer")
    assert sum(p.numel() for p in model.parameters()) == expected_parameters(64, 4, 2, 4, 10, 10, "layer", 1, 0)


def _trace_first_block(model, x):
    """Inputs and outputs of block 0 and of its norms, attention and feed-forward net, in call order."""
    block = model.blocks[0]
    calls, handles = [], []
    for name in ("norm1", "norm2", "attn", "ffn"):
        handles.append(getattr(block, name).register_forward_hook(
            lambda module, args, output, name=name: calls.append((name, args[0].detach(), output.detach()))))
    handles.append(block.register_forward_hook(
        lambda module, args, output: calls.append(("block", args[0].detach(), output.detach()))))
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return [name for name, _, _ in calls], {name: (i, o) for name, i, o in calls}


def _with_random_norm_parameters(model):
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.copy_(torch.randn_like(param))
    return model


def test_pre_ln_norms_feed_the_branches_and_the_residual_stream_is_added_after(make_cfg):
    model = _with_random_norm_parameters(_build(make_cfg, "norm=layer", "model.norm_position=pre")).eval()
    order, seen = _trace_first_block(model, torch.randn(6, 1, 40))
    assert order == ["norm1", "attn", "norm2", "ffn", "block"]
    x, out = seen["block"]
    assert torch.equal(seen["norm1"][0], x)  # the norm reads the residual stream ...
    assert torch.equal(seen["attn"][0], seen["norm1"][1])  # ... and its output is attention's input
    after_attn = x + seen["attn"][1]  # the residual is added after the branch, unnormalized
    assert torch.allclose(seen["norm2"][0], after_attn, atol=1e-6)
    assert torch.equal(seen["ffn"][0], seen["norm2"][1])
    assert torch.allclose(out, after_attn + seen["ffn"][1], atol=1e-6)  # the block's output is never normalized
    assert isinstance(model.final_norm, torch.nn.LayerNorm)  # auto: Pre-LN ends with a final norm


def test_post_ln_norms_take_the_residual_sums(make_cfg):
    model = _with_random_norm_parameters(_build(make_cfg, "norm=layer", "model.norm_position=post")).eval()
    order, seen = _trace_first_block(model, torch.randn(6, 1, 40))
    assert order == ["attn", "norm1", "ffn", "norm2", "block"]
    x, out = seen["block"]
    assert torch.equal(seen["attn"][0], x)  # attention reads the block's input itself
    assert torch.allclose(seen["norm1"][0], x + seen["attn"][1], atol=1e-6)  # the norm takes x + Attn(x)
    assert torch.equal(seen["ffn"][0], seen["norm1"][1])
    assert torch.allclose(seen["norm2"][0], seen["norm1"][1] + seen["ffn"][1], atol=1e-6)
    assert torch.equal(out, seen["norm2"][1])  # the block ends in a norm
    assert isinstance(model.final_norm, torch.nn.Identity)  # auto: no final norm after Post-LN
    forced = _build(make_cfg, "norm=layer", "model.norm_position=post", "model.final_norm=true")
    assert isinstance(forced.final_norm, torch.nn.LayerNorm)


def test_patches_cut_sequences_and_images_in_order():
    seq = torch.arange(2 * 3 * 8.0).view(2, 3, 8)  # (N, C, L)
    tokens = Patches(4)(seq)
    assert tokens.shape == (2, 2, 12)
    assert torch.equal(tokens[1, 1], seq[1, :, 4:8].reshape(-1))  # patch 1: positions 4..7 of every channel
    image = torch.arange(2 * 2 * 4 * 6.0).view(2, 2, 4, 6)  # (N, C, H, W)
    tokens = Patches(2)(image)
    assert tokens.shape == (2, 6, 8)
    assert torch.equal(tokens[0, 4], image[0, :, 2:4, 2:4].reshape(-1))  # row 1, column 1 of the 2x3 patch grid


def test_impossible_settings_are_refused_in_one_line_naming_what_is_allowed(make_cfg):
    with pytest.raises(ConfigError, match=r"^norm=instance has no meaning on a Transformer's tokens in "
                                          r"model=transformer; allowed there: batch, group, layer, none, rms$"):
        _build(make_cfg, "norm=instance")
    with pytest.raises(ConfigError, match=r"norm.groups=5 does not divide the 64 channels.*1, 2, 4, 8, 16, 32, 64$"):
        _build(make_cfg, "norm=group", "norm.groups=5")
    with pytest.raises(ConfigError, match=r"model.patch_size=3 does not divide the input's positions \[40\]; "
                                          r"choose one of: 1, 2, 4, 5, 8, 10, 20, 40$"):
        _build(make_cfg, "norm=layer", "model.patch_size=3")
    with pytest.raises(ConfigError, match=r"model.heads=3 does not divide model.d_model=64"):
        _build(make_cfg, "norm=layer", "model.heads=3")


def _train_steps(make_cfg, data, norm, position, steps=40):
    """Train the run's own build (data, model, optimizer, schedule) for `steps` steps; the loss on 500 training
    samples before and after."""
    built = build(make_cfg("model=transformer", f"data={data}", f"norm={norm}", f"model.norm_position={position}",
                           "norm.groups=4" if norm == "group" else "norm.eps=1e-5", "model.d_model=32",
                           "model.layers=2", f"model.patch_size={8 if data == 'mnist1d' else 4}",
                           f"optim.lr={0.003 if data == 'mnist1d' else 0.01}", "num_threads=1"))
    x, y = built.data.x_train[:500], built.data.y_train[:500]

    def loss() -> float:
        built.model.eval()
        with torch.no_grad():
            value = F.cross_entropy(built.model(x), y).item()
        built.model.train()
        return value

    before = loss()
    for _ in range(steps):
        xb, yb = built.batches.next()
        batch_loss = F.cross_entropy(built.model(xb), yb)
        built.optimizer.zero_grad()
        batch_loss.backward()
        built.optimizer.step()
        built.scheduler.step()
    return before, loss()


@pytest.mark.parametrize("data, norm, position", [
    ("mnist1d", "layer", "post"), ("mnist1d", "rms", "pre"), ("mnist1d", "batch", "post"),
    ("mnist1d", "group", "pre"), ("mnist1d", "none", "post"),
    ("digits", "layer", "pre"), ("digits", "rms", "post"), ("digits", "batch", "pre"),
    ("digits", "group", "post"), ("digits", "none", "pre"),
])
def test_learns_with_every_token_norm_on_mnist1d_and_digits(make_cfg, data, norm, position):
    before, after = _train_steps(make_cfg, data, norm, position)
    assert before > 2.0 and after < before - 0.3  # from chance (ln 10 = 2.3) to clearly below in 40 steps


def test_a_transformer_run_writes_its_norm_position_into_the_summary_and_the_run_name(make_cfg, tmp_path):
    cfg = make_cfg("model=transformer", "norm=rms", "model.norm_position=post", "model.d_model=16",
                   "model.layers=1", "model.patch_size=8", "trainer.max_steps=10", "trainer.eval_interval=10",
                   "progress=false")
    summary = run_experiment(cfg, tmp_path / "run")
    assert summary["status"] == "completed" and summary["model"] == "transformer"
    assert summary["model_cell"] == "post"  # the report tells transformer-pre and transformer-post apart
    assert run_name(cfg).startswith("transformer-post_rms_mnist1d")
