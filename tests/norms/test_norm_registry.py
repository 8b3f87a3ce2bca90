"""The norm factory: refusals with the allowed alternatives, configs that match the schema, the trainer's hook."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from normbench.errors import ConfigError
from normbench.norms import NORMS, ROLES, NormSite, create_norm, norms_for_role, traits
from normbench.norms.layers.hooks import TrainStepAware

from .configs import norm_cfg

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "norm"


def test_instance_norm_on_a_feature_vector_is_refused_naming_the_norms_allowed_there():
    with pytest.raises(ConfigError) as refused:
        create_norm(norm_cfg("instance"), NormSite("features", 8, "model=mlp"))
    message = str(refused.value)
    assert "\n" not in message
    assert "norm=instance has no meaning on a feature vector in model=mlp" in message
    assert message.endswith("allowed there: batch, batch_renorm, ghost_batch, group, layer, none, rms, switch")


@pytest.mark.parametrize("role", ROLES)
def test_every_norm_is_built_for_its_roles_and_refused_elsewhere(role):
    allowed = norms_for_role(role)
    for name in NORMS.names():
        cfg = norm_cfg(name, groups=1)
        if role in traits(name).roles:
            assert name in allowed
            create_norm(cfg, NormSite(role, 4))
        else:
            with pytest.raises(ConfigError, match=f"allowed there: {', '.join(allowed)}$"):
                create_norm(cfg, NormSite(role, 4))


def test_zoo_norms_support_every_role_but_tokens_and_sync_batch_norm_is_not_registered():
    for name in ("batch_renorm", "ghost_batch", "switch"):
        assert traits(name).roles == frozenset(ROLES) - {"tokens"}  # the Transformer takes layer/rms/batch/group/none
        assert traits(name).batch_dependent
    assert norms_for_role("tokens") == ["batch", "group", "layer", "none", "rms"]
    assert "sync_batch" not in NORMS.names()


def test_every_norm_has_a_config_that_matches_the_schema():
    files = {path.stem: path for path in CONFIGS.glob("*.yaml")}
    assert set(files) == set(NORMS.names())
    for name, path in files.items():
        # Unknown keys or wrong types raise here, as they do when Hydra merges the YAML onto the norm's schema.
        cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(NORMS.get(name).config), OmegaConf.load(path)))
        assert cfg.name == name
        for role in traits(name).roles:
            create_norm(cfg, NormSite(role, 25))  # the default CNN's 25 channels


def test_batch_renorm_config_uses_the_papers_schedule_and_update_rate():
    cfg = OmegaConf.load(CONFIGS / "batch_renorm.yaml")
    assert (cfg.renorm_warmup_steps, cfg.renorm_rmax_steps, cfg.renorm_dmax_steps) == (5000, 40000, 25000)
    assert (cfg.rmax, cfg.dmax, cfg.momentum, cfg.renorm_schedule) == (3.0, 5.0, 0.01, "scaled")


def test_only_batch_renorm_takes_the_trainers_step():
    for name in NORMS.names():
        for role in traits(name).roles:
            modules = create_norm(norm_cfg(name, groups=1), NormSite(role, 4)).modules()
            hooked = [m for m in modules if isinstance(m, TrainStepAware)]
            assert bool(hooked) == (name == "batch_renorm"), (name, role)



@pytest.mark.parametrize("role", ROLES)
def test_every_norm_but_none_is_a_norm_layer_the_provenance_check_recognises(role):
    """A normbench norm class missing from NORM_LAYER_TYPES would let a model build it behind the factory's back."""
    from normbench.norms.layers.provenance import is_norm_layer

    for name in norms_for_role(role):
        norm = create_norm(norm_cfg(name, groups=1), NormSite(role, 4))
        assert any(is_norm_layer(module) for module in norm.modules()) == (name != "none"), name
