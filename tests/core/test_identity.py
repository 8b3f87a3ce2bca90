import pytest

from normbench.rundir.identity import config_hash, group_hash, identity_dict, run_name


def test_run_name_is_readable_and_independent_of_override_order(make_cfg):
    cfg = make_cfg("model=rnn", "model.cell=lstm", "norm=layer", "batch_size=8", "seed=0")
    a = run_name(cfg, ["trainer.max_steps=10", "norm.eps=0.001", "seed=0"])
    b = run_name(cfg, ["norm.eps=0.001", "trainer.max_steps=10"])
    assert a == b == "rnn-lstm_layer_mnist1d_bs8_adam-lr0.01_s0_eps=0.001_max_steps=10"


def test_hashes_separate_configs_and_group_seeds(make_cfg):
    s0, s1 = make_cfg("seed=0"), make_cfg("seed=1")
    other = make_cfg("seed=0", "batch_size=32")
    assert config_hash(s0) != config_hash(s1) and group_hash(s0) == group_hash(s1)
    assert group_hash(s0) != group_hash(other)
    assert config_hash(s0) == config_hash(make_cfg("seed=0", "progress=false", "device=cpu"))  # display-only keys


def test_execution_settings_never_change_a_runs_identity(make_cfg):
    base = config_hash(make_cfg())
    for override in ("trainer.checkpoint_interval=50", "data.cache_dir=/elsewhere", "results_dir=/x", "num_threads=2",
                     "force=true", "user_dir=.", "progress=false", "trainer.compile=true",
                     "trainer.cuda_graphs=true", "trainer.cuda_graphs=false"):
        assert config_hash(make_cfg(override)) == base, override


def test_every_value_a_run_uses_changes_its_identity(make_cfg):
    base = make_cfg("model=cnn", "norm=group")
    changed = ["model.channels=[25,25,20]", "norm.groups=25", "norm.eps=0.001", "data.num_train=3000", "optim.lr=0.02",
               "optim.betas=[0.8,0.999]", "trainer.max_steps=10", "probe.every=5", "batch_size=50", "deterministic=true",
               "trainer.precision=bf16"]
    hashes = {override: config_hash(make_cfg("model=cnn", "norm=group", override)) for override in changed}
    assert config_hash(base) not in hashes.values()
    assert len(set(hashes.values())) == len(changed)


def test_a_field_added_to_another_option_leaves_existing_hashes_unchanged(make_cfg, monkeypatch):
    """The upgrade case: a new key in the CNN's schema (or a new norm) must not re-identify MLP runs."""
    from dataclasses import field, make_dataclass

    from hydra.core.config_store import ConfigStore

    from normbench.models.cnn import CNNConfig

    mlp_before = make_cfg("model=mlp", "norm=batch")
    before = (config_hash(mlp_before), group_hash(mlp_before))
    wider = make_dataclass("CNNConfig", [("dilation", int, field(default=1))], bases=(CNNConfig,))
    store = ConfigStore.instance()
    monkeypatch.setitem(store.repo["schema"]["model"], "cnn.yaml", store.repo["schema"]["model"]["cnn.yaml"])
    store.store(group="schema/model", name="cnn", node=wider)
    assert "dilation" in make_cfg("model=cnn").model  # the new field is really there for CNN runs
    mlp_after = make_cfg("model=mlp", "norm=batch")
    assert (config_hash(mlp_after), group_hash(mlp_after)) == before


def test_a_field_added_later_changes_no_hash_until_it_is_set(make_cfg, monkeypatch):
    """`added_field`: a key introduced after identity version 2 is left out of the identity at its default."""
    from dataclasses import make_dataclass

    from hydra.core.config_store import ConfigStore

    from normbench.config.options import added_field
    from normbench.models.mlp import MLPConfig

    before = config_hash(make_cfg("model=mlp"))
    newer = make_dataclass("MLPConfig", [("dropout", float, added_field(0.0))], bases=(MLPConfig,))
    store = ConfigStore.instance()
    monkeypatch.setitem(store.repo["schema"]["model"], "mlp.yaml", store.repo["schema"]["model"]["mlp.yaml"])
    store.store(group="schema/model", name="mlp", node=newer)
    assert config_hash(make_cfg("model=mlp")) == before
    assert config_hash(make_cfg("model=mlp", "model.dropout=0.1")) != before


def test_one_norm_in_every_layer_is_labelled_as_that_norm_without_moving_the_run(make_cfg):
    from normbench.rundir.identity import run_name, run_norm_label

    cfg = make_cfg("model.layer_norms=[batch,batch]", "model.hidden=[8,8]", "data.val_fraction=0")
    mixed = make_cfg("model.layer_norms=[batch,layer]", "model.hidden=[8,8]")
    assert (run_norm_label(cfg), run_norm_label(mixed)) == ("batch", "batch+layer")
    # The directory name and the hash are those the per-layer config had before the label changed.
    assert run_name(cfg) == "mlp_batch+batch_mnist1d_bs100_adam-lr0.01_s0"
    assert config_hash(cfg) == "70459e277a97"


# Hashes of these configurations computed by the code before data.val_fraction existed (runs trained on all their
# training data): the same configurations at data.val_fraction=0 must keep them.
HASHES_BEFORE_VALIDATION = {(): ("54e0580076c4", "44a8a01a52e6"),
                            ("model=cnn", "norm=group"): ("309203e0aaaa", "46594fe63622"),
                            ("data=digits", "model=mlp", "norm=layer"): ("224b4c600b98", "dea5cf3fb8b5")}


@pytest.mark.parametrize("overrides", list(HASHES_BEFORE_VALIDATION))
def test_a_field_with_a_legacy_value_keeps_old_hashes_there_and_makes_new_ones_at_its_default(make_cfg, overrides):
    """`added_field(0.1, legacy=0.0)`: runs written before data.val_fraction trained on 100%, i.e. val_fraction=0;
    they keep their hashes, and a run at the new default (90% of the data) is another computation: a new hash."""
    legacy = make_cfg(*overrides, "data.val_fraction=0")
    assert (config_hash(legacy), group_hash(legacy)) == HASHES_BEFORE_VALIDATION[overrides]
    default, other = make_cfg(*overrides), make_cfg(*overrides, "data.val_fraction=0.2")
    assert len({config_hash(legacy), config_hash(default), config_hash(other)}) == 3
    assert identity_dict(default)["data"]["val_fraction"] == 0.1 and "val_fraction" not in identity_dict(legacy)["data"]
    assert identity_dict(legacy, with_defaults=True)["data"]["val_fraction"] == 0.0  # still a value the run used


def test_a_recorded_config_written_before_an_added_field_is_read_with_its_legacy_value(make_cfg):
    """A run's .hydra/config.yaml without data.val_fraction (written before it existed) is typed with val_fraction=0,
    not today's default 0.1, so its recomputed hash is the one it has always had."""
    from omegaconf import OmegaConf

    from normbench.config.typed import typed_config

    recorded = OmegaConf.to_container(make_cfg("model=cnn", "norm=group"), resolve=True)
    del recorded["data"]["val_fraction"]
    typed = typed_config(recorded)
    assert typed.data.val_fraction == 0.0
    assert (config_hash(typed), group_hash(typed)) == HASHES_BEFORE_VALIDATION[("model=cnn", "norm=group")]
