from normbench.rundir.identity import config_hash, group_hash, run_name


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
