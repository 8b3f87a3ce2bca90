"""The curated studies (configs/experiment/): each composes, sweeps the grid docs/sweeps.md describes, and
derives its budget as documented; the blog example runs for real, shrunk."""

import pytest
from omegaconf import OmegaConf

from normbench.launch.tally import count_jobs

from .conftest import normbench_train, run_dirs, summaries, tally_counts

STUDY_SIZES = {"bn_vs_ln": 27, "small_batch": 84, "lr_sensitivity": 144, "rnn": 18, "blog_example": 12,
               "your_model": 84, "transformer_stability": 192}


@pytest.mark.parametrize("study, runs", STUDY_SIZES.items())
def test_each_study_sweeps_its_documented_grid(compose_cfg, study, runs):
    cfg = compose_cfg(f"experiment={study}", hydra=True)
    assert cfg.experiment == study
    assert count_jobs(cfg) == runs
    # command-line values replace the study's own: one seed of the grid
    assert count_jobs(compose_cfg(f"experiment={study}", "seed=0", hydra=True)) == runs // 3


@pytest.mark.parametrize("batch_size", [2, 32, 128])
def test_small_batch_keeps_the_sample_budget_and_scales_the_learning_rate(compose_cfg, batch_size):
    cfg = compose_cfg("experiment=small_batch", f"batch_size={batch_size}")
    assert cfg.trainer.max_steps == 32000 // batch_size  # the same 8 epochs at every batch size
    assert cfg.trainer.eval_interval == cfg.trainer.max_steps // 10
    assert cfg.optim.name == "sgd" and cfg.optim.lr == pytest.approx(0.1 * batch_size / 32)  # linear rule
    sqrt = compose_cfg("experiment=small_batch", f"batch_size={batch_size}", "extra.lr_rule=sqrt")
    assert sqrt.optim.lr == pytest.approx(0.1 * (batch_size / 32) ** 0.5)


def test_blog_example_trains_one_norm_per_layer(tmp_path):
    out = normbench_train("-m", "experiment=blog_example", f"results_dir={tmp_path}", "seed=0", "trainer.epochs=2",
                          "data.num_train=200", "data.num_test=50", "num_threads=1", "progress=false")
    assert out.returncode == 0, out.stderr
    assert tally_counts(out.stdout)["completed"] == 4
    study = tmp_path / "blog_example"
    runs = {s["norm"]: s for s in summaries(study).values()}
    assert sorted(runs) == ["batch", "batch+layer", "layer", "none"]  # one norm in every layer is that norm
    # epochs x batches per epoch, of the 180 samples left for training by the validation split (10%)
    assert all(run["max_steps"] == 2 * (180 // 100) for run in runs.values())
    # 128 -> 256 -> 32 -> 10 without norms; each BN or LN adds a gain and a bias per feature
    plain = 128 * 256 + 256 + 256 * 32 + 32 + 32 * 10 + 10
    assert runs["none"]["num_params"] == plain
    assert {runs[n]["num_params"] for n in ("batch+layer", "batch", "layer")} == {plain + 2 * (256 + 32)}
    mixed = next(run for run in run_dirs(study) if "batch+layer" in run.name)
    saved = OmegaConf.load(mixed / ".hydra" / "config.yaml")
    assert list(saved.model.layer_norms) == ["batch", "layer"] and list(saved.model.hidden) == [256, 32]
    assert saved.model.residual is False and saved.optim.lr == 1e-3 and saved.batch_size == 100
