"""Models: the MNIST-1D paper's sizes, and norms placed and computed over the axes the papers define."""

import pytest
import torch
from torch import nn

from normbench.config.validate import validate
from normbench.errors import ConfigError
from normbench.models import InputSpec, build_model
from normbench.models.nets.rnn import NormalizedRecurrence
from normbench.models.rnn import Cell
from normbench.norms import NormFactory
from normbench.norms.layers.batch_family import StepwiseBatchNorm

MNIST1D = InputSpec((1, 40), 10)


def _build(make_cfg, *overrides, spec=MNIST1D):
    cfg = make_cfg(*overrides)
    torch.manual_seed(0)
    return _model(cfg, spec)


def _model(cfg, spec=MNIST1D):
    options = validate(cfg)
    return build_model(options.model, spec, NormFactory(options.norm, owner=f"model={options.model.name}"))


def _count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model, expected", [("mlp", 15_210), ("cnn", 5_210), ("rnn", 5_134)])
def test_plain_models_match_the_mnist1d_paper_parameter_counts(make_cfg, model, expected):
    # Greydanus 2020, notebooks/models.py: MLP 15,210, CNN 5,210, bidirectional GRU(6) 5,134 parameters.
    assert _count(_build(make_cfg, f"model={model}", "norm=none")) == expected


def _outputs_of(module_type, model, x):
    seen = []
    handles = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for m in model.modules()
               if isinstance(m, module_type)]
    model(x)
    for h in handles:
        h.remove()
    return seen


def test_mlp_layer_norm_normalizes_each_sample_across_features(make_cfg):
    model = _build(make_cfg, "model=mlp", "norm=layer", "norm.affine=false")
    (first, *_) = _outputs_of(nn.LayerNorm, model, torch.randn(16, 1, 40) * 3 + 2)
    assert torch.allclose(first.mean(dim=1), torch.zeros(16), atol=1e-5)
    assert torch.allclose(first.var(dim=1, unbiased=False), torch.ones(16), atol=1e-3)
    # ... and not each feature across the batch (the common misreading):
    assert first.mean(dim=0).abs().max() > 0.05


def test_mlp_batch_norm_normalizes_each_feature_across_the_batch(make_cfg):
    model = _build(make_cfg, "model=mlp", "norm=batch", "norm.affine=false").train()
    (first, *_) = _outputs_of(nn.BatchNorm1d, model, torch.randn(32, 1, 40) * 3 + 2)
    assert torch.allclose(first.mean(dim=0), torch.zeros(100), atol=1e-5)
    assert torch.allclose(first.var(dim=0, unbiased=False), torch.ones(100), atol=1e-3)


def test_mlp_places_norm_between_linear_and_relu(make_cfg):
    model = _build(make_cfg, "model=mlp", "norm=layer")
    layer = model.layers[0]
    x = torch.randn(4, 40)
    assert torch.allclose(layer(x), torch.relu(layer.norm(layer.linear(x))))


def test_cnn_norm_axes(make_cfg):
    x = torch.randn(8, 1, 40) * 2 + 1
    bn = _outputs_of(nn.BatchNorm1d, _build(make_cfg, "model=cnn", "norm=batch", "norm.affine=false").train(), x)[0]
    assert torch.allclose(bn.mean(dim=(0, 2)), torch.zeros(25), atol=1e-5)  # per channel over (batch, length)
    assert torch.allclose(bn.var(dim=(0, 2), unbiased=False), torch.ones(25), atol=1e-3)
    ln = _outputs_of(nn.GroupNorm, _build(make_cfg, "model=cnn", "norm=layer", "norm.affine=false"), x)[0]
    assert torch.allclose(ln.mean(dim=(1, 2)), torch.zeros(8), atol=1e-5)  # per sample over (channels, length)
    assert torch.allclose(ln.var(dim=(1, 2), unbiased=False), torch.ones(8), atol=1e-3)
    inst = _outputs_of(nn.InstanceNorm1d, _build(make_cfg, "model=cnn", "norm=instance", "norm.affine=false"), x)[0]
    assert torch.allclose(inst.mean(dim=2), torch.zeros(8, 25), atol=1e-5)  # per sample and channel


def test_cnn_uses_2d_convs_for_images(make_cfg):
    model = _build(make_cfg, "model=cnn", "norm=batch", "data=digits", spec=InputSpec((1, 8, 8), 10))
    assert any(isinstance(m, nn.Conv2d) for m in model.modules())
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_rnn_batch_norm_keeps_separate_statistics_per_time_step(make_cfg):
    model = _build(make_cfg, "model=rnn", "model.bidirectional=false", "model.input_norm=true", "norm=batch").train()
    recurrence = model.recurrence.forward_layer
    seen = {}
    recurrence.norm_x.register_forward_hook(lambda m, i, o: seen.setdefault("x", i[0]))
    x = torch.randn(32, 1, 40) + torch.linspace(-3, 3, 40)  # a different mean at every step
    model(x)
    bn = recurrence.norm_x
    assert isinstance(bn, StepwiseBatchNorm)
    assert bn.weight.detach()[0].item() == pytest.approx(0.1)  # Cooijmans et al.'s gain initialisation
    pre = seen["x"]  # (N, T, 3H): input-to-hidden pre-activations
    expected = bn.momentum * pre.mean(dim=0)  # running means start at 0: one update
    assert torch.allclose(bn.running_mean[:40], expected.detach(), atol=1e-6)
    assert not torch.allclose(bn.running_mean[0], bn.running_mean[39])


def test_rnn_layer_norm_normalizes_gate_preactivations_per_sample_and_step(make_cfg):
    # One direction: two directions' LayerNorms run as one stacked layer_norm (norms.layers.step.stacked_step_norm),
    # checked against the per-module reference in test_rnn_unroll.py.
    model = _build(make_cfg, "model=rnn", "model.cell=lstm", "model.bidirectional=false", "norm=layer",
                   "norm.affine=false")
    recurrence = model.recurrence.forward_layer
    outs = []
    recurrence.norm_h.register_forward_hook(lambda m, i, o: outs.append(o))
    model(torch.randn(5, 1, 40))
    assert len(outs) == 40  # hidden-to-hidden pre-activations normalized at every step
    step = outs[7]  # (N, 4H)
    assert torch.allclose(step.mean(dim=1), torch.zeros(5), atol=1e-5)
    assert hasattr(recurrence, "norm_c")  # LSTM also normalizes the cell state (Ba et al.)


@pytest.mark.parametrize("cell, native_cls", [("gru", nn.GRU), ("lstm", nn.LSTM)])
def test_unnormalized_custom_cell_equals_pytorch_cell(make_cfg, cell, native_cls):
    cfg = make_cfg("norm=none")
    torch.manual_seed(0)
    custom = NormalizedRecurrence(Cell(cell), 3, 5, NormFactory(validate(cfg).norm))
    native = native_cls(3, 5, batch_first=True)
    with torch.no_grad():
        native.weight_ih_l0.copy_(custom.x_proj.weight)
        native.weight_hh_l0.copy_(custom.h_proj.weight)
        native.bias_ih_l0.copy_(custom.x_proj.bias)
        native.bias_hh_l0.copy_(custom.h_proj.bias)
    seq = torch.randn(4, 9, 3)
    assert torch.allclose(custom(seq), native(seq)[0], atol=1e-6)


def test_impossible_pairs_are_refused_with_the_allowed_norms(make_cfg):
    with pytest.raises(ConfigError, match=r"norm=instance .* model=mlp; allowed there: .*layer"):
        _build(make_cfg, "model=mlp", "norm=instance")
    with pytest.raises(ConfigError, match=r"norm.groups=4 does not divide the 25 channels.*1, 5, 25"):
        _build(make_cfg, "model=cnn", "norm=group", "norm.groups=4")
    with pytest.raises(ConfigError, match=r"model=cnn needs data with positions"):
        _build(make_cfg, "model=cnn", "data=synthetic", spec=InputSpec((128,), 10))


def test_mlp_accepts_one_norm_per_layer(make_cfg):
    model = _build(make_cfg, "model=mlp", "model.hidden=[16,8]", "model.layer_norms=[batch,layer]")
    assert isinstance(model.layers[0].norm, nn.BatchNorm1d) and isinstance(model.layers[1].norm, nn.LayerNorm)
    with pytest.raises(ConfigError, match="one norm per hidden layer"):
        _build(make_cfg, "model=mlp", "model.hidden=[16,8]", "model.layer_norms=[batch]")


def test_rnn_input_norm_is_skipped_by_default_for_one_feature_inputs(make_cfg):
    # LN of x_t * w is sign(x_t) * LN(w): with one input feature a per-sample norm erases the input.
    cfg = make_cfg("model=rnn", "norm=layer", "model.input_norm=true", "model.bidirectional=false")
    torch.manual_seed(0)
    forced = _model(cfg).recurrence.forward_layer
    pre = forced.x_proj(torch.tensor([[[0.5]], [[3.0]]]))
    assert torch.allclose(forced.norm_x(pre, 0)[0], forced.norm_x(pre, 0)[1], atol=1e-3)  # 0.5 and 3.0 look alike (up to eps)
    auto = _build(make_cfg, "model=rnn", "norm=layer").recurrence.forward_layer
    assert isinstance(auto.norm_x.norm, nn.Identity) and auto.x_proj.bias is not None
    assert isinstance(auto.norm_h.norm, nn.LayerNorm)
    images = _build(make_cfg, "model=rnn", "norm=layer", spec=InputSpec((1, 8, 8), 10)).recurrence.forward_layer
    assert isinstance(images.norm_x.norm, nn.LayerNorm)  # 8 features per step: normalized as in Ba et al.
