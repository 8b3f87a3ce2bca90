"""A model's declared norm roles (`ModelConfig.norm_roles`, which lets validation refuse an impossible model/norm
pair before torch is imported) are exactly the roles its build asks its NormFactory for."""

import pytest

from normbench.config.validate import validate
from normbench.errors import ConfigError
from normbench.models import MODELS, InputSpec, build_model
from normbench.norms import NormFactory, norm_config

CASES = [  # (model, its keys, one sample's shape)
    ("mlp", {}, (40,)),
    ("mlp", {}, (1, 8, 8)),
    ("cnn", {}, (1, 40)),
    ("cnn", {}, (1, 8, 8)),
    ("rnn", {"cell": "gru"}, (1, 40)),
    ("rnn", {"cell": "lstm"}, (3, 8, 8)),
    ("transformer", {}, (1, 40)),
    ("transformer", {}, (3, 8, 8)),
]


def roles_asked(model: str, keys: dict, shape: tuple) -> frozenset:
    from omegaconf import OmegaConf

    schema = MODELS.get(model).config
    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema(name=model)), keys))
    factory = NormFactory(norm_config("batch"))  # batch norm has a meaning on every role
    build_model(cfg, InputSpec(shape, 10), factory)
    return frozenset(site.role for site in factory.sites), cfg.norm_roles(shape)


@pytest.mark.parametrize("model, keys, shape", CASES, ids=[f"{m}-{'x'.join(map(str, s))}" for m, _, s in CASES])
def test_a_models_declared_norm_roles_are_those_its_build_asks_for(model, keys, shape):
    asked, declared = roles_asked(model, keys, shape)
    assert asked and declared == asked


def test_torchvisions_declared_norm_roles_are_those_its_build_asks_for(torchvision_models):
    asked, declared = roles_asked("torchvision", {"arch": "resnet18"}, (3, 32, 32))
    assert declared == asked == frozenset({"map2d"})


@pytest.mark.parametrize("overrides, said", [
    (["model=mlp", "norm=instance"], "norm=instance has no meaning on a feature vector in model=mlp"),
    (["model=transformer", "norm=batch_renorm"], "norm=batch_renorm has no meaning on a Transformer's tokens"),
    (["model=mlp", "model.layer_norms=[layer,instance]"], "norm=instance has no meaning"),
])
def test_an_impossible_model_norm_pair_is_refused_by_validation(make_cfg, overrides, said):
    with pytest.raises(ConfigError, match=said):
        validate(make_cfg(*overrides))


def test_a_possible_pair_passes_validation(make_cfg):
    assert validate(make_cfg("model=cnn", "norm=instance")).norm.name == "instance"
