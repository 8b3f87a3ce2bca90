"""Your network, your data: torchvision models, your own factory, and norm swapping."""

import json
import textwrap

import pytest
import torch
from torch import nn

from normbench.engine.build import build
from normbench.engine.run import run_experiment
from normbench.errors import ConfigError

from .conftest import run_cli

# Tiny, so ResNet-18 trains in about a second per run on two cores; lr 1e-3 so norm=none does not diverge. Ten
# training samples: one is held out as the validation split (data.val_fraction=0.1), nine train.
IMAGES = ["data=synthetic", "data.shape=[3,32,32]", "data.num_train=10", "data.num_test=4", "batch_size=4",
          "trainer.max_steps=2", "trainer.eval_interval=2", "trainer.log_interval=1", "optim.lr=0.001",
          "progress=false"]
SEQUENCES = [*IMAGES[:1], "data.shape=[2,16]", *IMAGES[2:]]
RESNET18 = ["model=torchvision", "model.arch=resnet18", "model.small_input=true"]

NETS = '''
    from torch import nn


    def with_norm_layer(norm_layer, num_classes, input_shape, width=8):
        channels, length = input_shape
        return nn.Sequential(
            nn.Conv1d(channels, width, 3, padding=1), norm_layer(width), nn.ReLU(), nn.Flatten(),
            nn.Linear(width * length, width), norm_layer(width), nn.ReLU(), nn.Linear(width, num_classes))


    def bn_net(num_classes, input_shape):
        channels, length = input_shape
        return nn.Sequential(
            nn.Conv1d(channels, 8, 3, padding=1), nn.BatchNorm1d(8), nn.ReLU(), nn.Flatten(),
            nn.Linear(8 * length, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, num_classes))


    def no_norms(num_classes, input_shape):
        return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * input_shape[1], num_classes))


    def ignores_norm(norm_layer, num_classes, input_shape):  # takes norm_layer, normalizes with BN all the same
        channels, length = input_shape
        return nn.Sequential(
            nn.Conv1d(channels, 8, 3, padding=1), nn.BatchNorm1d(8), nn.ReLU(), nn.Flatten(),
            nn.Linear(8 * length, num_classes))


    def own_final_norm(norm_layer, num_classes, input_shape):  # uses norm_layer, then a LayerNorm of its own
        channels, length = input_shape
        return nn.Sequential(
            nn.Conv1d(channels, 8, 3, padding=1), norm_layer(8), nn.ReLU(), nn.Flatten(),
            nn.Linear(8 * length, 16), nn.LayerNorm(16), nn.Linear(16, num_classes))
'''


@pytest.fixture
def nets(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(textwrap.dedent(NETS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _train(make_cfg, tmp_path, *overrides):
    cfg = make_cfg(f"results_dir={tmp_path}", *overrides)
    run_dir = tmp_path / "run"
    return run_experiment(cfg, run_dir), run_dir


@pytest.mark.parametrize("norm, cls, check", [
    ("batch", nn.BatchNorm2d, lambda m: True),
    ("layer", nn.GroupNorm, lambda m: m.num_groups == 1),
    ("group", nn.GroupNorm, lambda m: m.num_groups == 32),
    ("none", nn.Identity, lambda m: True),
])
def test_resnet18_small_input_trains_with_normbench_norms_at_every_site(make_cfg, tmp_path, torchvision_models,
                                                                          norm, cls, check):
    reference = torchvision_models.resnet18(weights=None, num_classes=10)
    sites = sum(isinstance(m, nn.BatchNorm2d) for m in reference.modules())
    built = build(make_cfg(*RESNET18, f"norm={norm}", *IMAGES))
    model = built.model
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1) and isinstance(model.maxpool, nn.Identity)
    norms = [m for name, m in model.named_modules() if isinstance(m, cls) and name != "maxpool"]
    assert len(norms) == sites == 20 and all(check(m) for m in norms)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()) or norm == "batch"
    summary, run_dir = _train(make_cfg, tmp_path, *RESNET18, f"norm={norm}", *IMAGES)
    assert summary["status"] == "completed" and summary["steps"] == 2 and summary["model_cell"] == "resnet18"
    assert summary["norm_swaps"] is None and not (run_dir / "norms.json").exists()


def test_a_factory_with_norm_layer_gets_the_norm_for_each_rank(make_cfg, tmp_path, nets):
    built = build(make_cfg("model=factory", "model.target=my_nets:with_norm_layer", "+model.kwargs={width:6}",
                           "norm=batch", *SEQUENCES))
    assert [type(m) for m in built.model if isinstance(m, nn.modules.batchnorm._BatchNorm)] == [nn.BatchNorm1d] * 2
    assert built.model[1].num_features == 6  # model.kwargs reached the function
    summary, _ = _train(make_cfg, tmp_path, "model=factory", "model.target=my_nets:with_norm_layer", "norm=layer",
                        *SEQUENCES)
    assert summary["status"] == "completed" and summary["model"] == "factory"


def test_swapping_a_factory_models_norms_trains_and_records_them(make_cfg, tmp_path, nets):
    summary, run_dir = _train(make_cfg, tmp_path, "model=factory", "model.target=my_nets:bn_net",
                              "model.swap_norms=true", "norm=group", "norm.groups=4", *SEQUENCES)
    assert summary["status"] == "completed" and summary["norm_swaps"] == 2
    assert json.loads((run_dir / "norms.json").read_text()) == [
        {"module": "1", "original": "BatchNorm1d", "replacement": "GroupNorm", "channels": 8, "role": "map1d"},
        {"module": "5", "original": "LayerNorm", "replacement": "GroupNorm", "channels": 16, "role": "features"},
    ]


def test_swapping_a_torchvision_models_norms_trains_and_records_them(make_cfg, tmp_path, torchvision_models):
    summary, run_dir = _train(make_cfg, tmp_path, *RESNET18, "model.swap_norms=true", "norm=layer", *IMAGES)
    swaps = json.loads((run_dir / "norms.json").read_text())
    assert summary["status"] == "completed" and summary["norm_swaps"] == len(swaps) == 20
    assert swaps[0] == {"module": "bn1", "original": "BatchNorm2d", "replacement": "GroupNorm", "channels": 64,
                        "role": "map2d"}
    assert {s["original"] for s in swaps} == {"BatchNorm2d"} and swaps[-1]["channels"] == 512


def test_swap_with_norm_none_leaves_identities(make_cfg, nets):
    built = build(make_cfg("model=factory", "model.target=my_nets:bn_net", "model.swap_norms=true", "norm=none",
                           *SEQUENCES))
    assert [type(m) for m in built.model.net][1] is nn.Identity and len(built.model.swaps) == 2
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)) for m in built.model.modules())


def test_a_layer_norm_over_tokens_is_swapped_per_token(make_cfg, tmp_path):
    (tmp_path / "tokens.py").write_text(textwrap.dedent('''
        from torch import nn
        class Net(nn.Module):
            def __init__(self, num_classes, input_shape):
                super().__init__()
                self.norm, self.head = nn.LayerNorm(input_shape[0]), nn.Linear(input_shape[0], num_classes)
            def forward(self, x):  # (N, C, L) -> tokens (N, L, C)
                return self.head(self.norm(x.transpose(1, 2)).mean(1))
        def net(num_classes, input_shape):
            return Net(num_classes, input_shape)
    '''))
    import sys
    sys.path.insert(0, str(tmp_path))
    try:
        built = build(make_cfg("model=factory", "model.target=tokens:net", "model.swap_norms=true", "norm=layer",
                               *SEQUENCES))
    finally:
        sys.path.remove(str(tmp_path))
    (swap,) = built.model.swaps
    assert swap.role == "features (per token)" and swap.replacement == "LayerNorm"
    x = torch.randn(3, 2, 16, device=next(built.model.parameters()).device)  # the model is on cuda where there is one
    tokens = built.model.net.norm(x.transpose(1, 2))
    assert torch.allclose(tokens, nn.functional.layer_norm(x.transpose(1, 2), (2,)), atol=1e-5)


def _refused(tmp_path, *args, cwd=None):
    out = run_cli("train", f"results_dir={tmp_path / 'results'}", *args, cwd=cwd)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not [p for p in (tmp_path / "results").rglob("*") if p.is_file()]  # nothing written
    return out.stderr.strip()


def test_bad_inputs_get_one_line_messages_from_the_cli(tmp_path):
    (tmp_path / "my_nets.py").write_text(textwrap.dedent(NETS))
    sequence_run = ["model=factory", "data=synthetic", "data.shape=[2,16]", "batch_size=8"]
    assert "cannot import not_there" in _refused(tmp_path, *sequence_run, "model.target=not_there:net", cwd=tmp_path)
    assert "takes no norm_layer; expected FUNCTION(norm_layer, num_classes, input_shape" in _refused(
        tmp_path, *sequence_run, "model.target=my_nets:no_norms", cwd=tmp_path)
    assert "the model has no norm to swap" in _refused(
        tmp_path, *sequence_run, "model.target=my_nets:no_norms", "model.swap_norms=true", cwd=tmp_path)


def test_an_unknown_torchvision_arch_gets_one_line_from_the_cli(tmp_path, torchvision_models):
    assert "model.arch=resnet99 is not a torchvision classification model; e.g. resnet18" in _refused(
        tmp_path, "model=torchvision", "data=synthetic", "data.shape=[3,32,32]", "model.arch=resnet99")


def test_the_model_tests_use_the_real_torchvision(torchvision_models):
    import torchvision

    # Its C extension is loaded: nms has a CPU kernel (a stand-in that only declares the op has none).
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
    kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert kept.tolist() == [0, 2]


@pytest.mark.parametrize("overrides, message", [
    (["model.arch=vgg11"], "model.arch=vgg11: its builder takes no norm_layer; use model.swap_norms=true"),
    (["model.arch=vit_b_16"], "applies its norm_layer to channels-last tokens as well as maps"),
    (["model.arch=mobilenet_v2", "norm=group"], "norm=group: model.groups=32 does not divide the 16, 24, 144 "
                                                "channels of mobilenet_v2's norm sites; groups that divide every "
                                                "site: 1, 2, 4, 8 (set model.groups=N)"),
    (["model.arch=mobilenet_v2", "model.small_input=true"], "small_input=true is implemented for the ResNet family"),
    (["data.shape=[3,32]"], "model=torchvision needs images (shape [C, H, W])"),
])
def test_torchvision_refusals_are_one_line(make_cfg, torchvision_models, overrides, message):
    with pytest.raises(ConfigError) as refused:
        build(make_cfg("model=torchvision", *IMAGES, *overrides))
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_factory_refusals_are_one_line(make_cfg, nets):
    for overrides, message in [
        ([], "model=factory needs model.target=MODULE:FUNCTION"),
        (["model.target=my_nets"], "must be MODULE:FUNCTION"),
        (["model.target=my_nets:missing"], "has no function missing"),
        (["model.target=my_nets:with_norm_layer", "+model.kwargs={depth:2}"],
         "must accept num_classes, input_shape, depth"),
    ]:
        with pytest.raises(ConfigError) as refused:
            build(make_cfg("model=factory", *SEQUENCES, *overrides))
        assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_factory_that_builds_its_own_norms_is_refused_naming_them(tmp_path):
    (tmp_path / "my_nets.py").write_text(textwrap.dedent(NETS))
    sequence_run = ["model=factory", "data=synthetic", "data.shape=[2,16]", "batch_size=8"]
    ignored = _refused(tmp_path, *sequence_run, "model.target=my_nets:ignores_norm", "norm=layer", cwd=tmp_path)
    assert "holds norm layers normbench did not build for norm=layer, at 1 (BatchNorm1d)" in ignored
    assert "model.swap_norms=true" in ignored
    # With norm=none the model's own LayerNorm would make a "none" run normalize: refused as well.
    mixed = _refused(tmp_path, *sequence_run, "model.target=my_nets:own_final_norm", "norm=none", cwd=tmp_path)
    assert "norm=none, but model=factory (my_nets.own_final_norm) holds norm layers, at 5 (LayerNorm)" in mixed


def test_a_norm_made_by_the_factory_is_accepted_and_one_it_did_not_make_is_named(make_cfg):
    from normbench.config.validate import validate
    from normbench.norms import NormFactory
    from normbench.norms.layers.provenance import foreign_norms

    make_norm = NormFactory(validate(make_cfg("norm=rms")).norm)
    model = nn.Sequential(make_norm("step", 4), nn.Sequential(nn.GroupNorm(2, 4)), make_norm("map2d", 4))
    assert [(path, type(m)) for path, m in foreign_norms(model, make_norm.made)] == [("1.0", nn.GroupNorm)]


def test_an_edited_factory_module_trains_again_instead_of_reusing_the_finished_run(tmp_path):
    nets = tmp_path / "my_nets.py"
    nets.write_text(textwrap.dedent(NETS))
    command = ["train", "model=factory", "model.target=my_nets:with_norm_layer", "norm=layer", *SEQUENCES,
               f"results_dir={tmp_path / 'results'}"]
    assert run_cli(*command, cwd=tmp_path).returncode == 0
    nets.write_text(textwrap.dedent(NETS).replace("width=8", "width=6"))  # the same command, another network
    again = run_cli(*command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already completed" not in again.stdout + again.stderr
    first, edited = sorted((json.loads(p.read_text()) for p in (tmp_path / "results").rglob("summary.json")),
                           key=lambda summary: summary["finished_at"])
    assert first["status"] == edited["status"] == "completed" and first["num_params"] > edited["num_params"]
    assert first["config_hash"] != edited["config_hash"]
    assert first["code_fingerprint"]["factory"] != edited["code_fingerprint"]["factory"]


def test_a_factory_in_a_user_dir_trains_from_the_cli(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "my_nets.py").write_text(textwrap.dedent(NETS))
    out = run_cli("train", f"user_dir={plugins}", "model=factory", "model.target=my_nets:bn_net",
                  "model.swap_norms=true", "norm=batch", *SEQUENCES, f"results_dir={tmp_path / 'results'}")
    assert out.returncode == 0, out.stderr
    (norms,) = (tmp_path / "results").rglob("norms.json")
    assert [s["replacement"] for s in json.loads(norms.read_text())] == ["BatchNorm1d", "BatchNorm1d"]


def test_advise_says_why_group_is_left_out_of_a_mobilenet(torchvision_models):
    from normbench.launch import advise

    plan = advise.plan(["model=torchvision", "model.arch=mobilenet_v2", "data=synthetic", "data.shape=[3,32,32]",
                        "batch_size=8"], "quick")
    assert "group" not in {norm for sweep in plan.sweeps for norm in sweep.norms}
    [note] = [note for note in plan.notes if "group" in note]
    assert note.startswith("leaves out group: norm=group: model.groups=32 does not divide the 16, 24, 144 channels")
