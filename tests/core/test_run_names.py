"""Run directory names a person can read: a path in an override shows its file's stem and a short fingerprint;
names without paths are what they always were; a run named before keeps its directory."""

from normbench.rundir.contract import digest
from normbench.rundir.identity import run_name

DATA = "/very/long/absolute/path/to/the/users/data/sets/for/normalization/experiments/digits.npz"


def _name(make_cfg, *overrides):
    return run_name(make_cfg(*overrides), overrides)


def test_a_path_is_named_by_its_stem_and_a_fingerprint(make_cfg, tmp_path):
    name = _name(make_cfg, "data=npz", f"data.path={DATA}", "trainer.max_steps=20", f"results_dir={tmp_path}")
    assert name.endswith(f"_path=digits-{digest(DATA)[:8]}_max_steps=20")
    assert "very" not in name and len(name) < 80  # 141 characters when the whole path was spelled out
    elsewhere = _name(make_cfg, "data=npz", "data.path=/other/folder/digits.npz", f"results_dir={tmp_path}")
    assert f"path=digits-{digest('/other/folder/digits.npz')[:8]}" in elsewhere  # same stem, another name


def test_names_without_paths_are_unchanged(make_cfg, tmp_path):
    assert _name(make_cfg, "model=cnn", "norm=layer", "data=digits", "batch_size=50", "trainer.max_steps=20",
                 "+model.kwargs={width:16}", f"results_dir={tmp_path}") == (
        "cnn_layer_digits_bs50_adam-lr0.01_s0_kwargs=-width-16_max_steps=20")


def test_a_run_named_with_its_whole_path_keeps_its_directory(make_cfg, tmp_path):
    overrides = ("data=npz", f"data.path={DATA}", f"results_dir={tmp_path}")
    cfg = make_cfg(*overrides)
    spelled_out = run_name(cfg, overrides).replace(f"path=digits-{digest(DATA)[:8]}",
                                                   "path=-very-long-absolute-path-to-the-users-data-sets-for-"
                                                   "normalization-experiments-digits.npz")
    (tmp_path / cfg.experiment / spelled_out).mkdir(parents=True)
    assert run_name(cfg, overrides) == spelled_out
