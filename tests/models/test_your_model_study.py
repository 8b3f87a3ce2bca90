"""configs/experiment/your_model.yaml: the norms defined at every kind of norm site x batch sizes 2..128 x 3 seeds
for whatever model= and data= the command line gives, with small_batch's budget and learning-rate rule; the
grid is the one docs/your_model.md states."""

import pytest

from normbench.launch.tally import count_jobs
from normbench.norms._registry import ROLES, traits
from tests.core.conftest import REPO

MODEL = ["model=torchvision", "model.arch=resnet18", "model.small_input=true", "data=cifar10", "data.root=/nowhere"]


def compose_cfg(*overrides, hydra=False):
    """The real configs/ composed in-process, as `normbench train` would (hydra=True keeps the hydra node)."""
    from hydra import compose, initialize_config_dir

    import normbench.cli.train  # noqa: F401  (registers the schema and normbench's resolvers)
    from normbench.config.paths import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


def _params(cfg) -> dict[str, str]:
    return {key: str(value) for key, value in cfg.hydra.sweeper.params.items()}


def test_the_study_sweeps_the_command_lines_model_and_data():
    cfg = compose_cfg("experiment=your_model", *MODEL, hydra=True)
    assert cfg.experiment == "your_model" and cfg.model.name == "torchvision" and cfg.data.name == "cifar10"
    assert count_jobs(cfg) == 4 * 7 * 3
    # a norm on the command line replaces the study's list (as norm=a,b,c does under -m)
    assert count_jobs(compose_cfg("experiment=your_model", *MODEL, "norm=instance", hydra=True)) == 7 * 3


def test_its_norms_apply_to_every_model():
    norms = _params(compose_cfg("experiment=your_model", hydra=True))["norm"].split(",")
    assert all(traits(name).roles == frozenset(ROLES) for name in norms)
    assert "instance" not in norms and traits("instance").roles != frozenset(ROLES)


@pytest.mark.parametrize("batch_size", [2, 32, 128])
def test_budget_and_learning_rate_follow_small_batch(batch_size):
    ours = compose_cfg("experiment=your_model", *MODEL, f"batch_size={batch_size}")
    theirs = compose_cfg("experiment=small_batch", f"batch_size={batch_size}")
    assert ours.optim.name == theirs.optim.name == "sgd"
    assert ours.optim.lr == theirs.optim.lr == pytest.approx(0.1 * batch_size / 32)
    assert ours.trainer.max_steps == theirs.trainer.max_steps == 32000 // batch_size
    assert ours.trainer.eval_interval == theirs.trainer.eval_interval
    shorter = compose_cfg("experiment=your_model", *MODEL, f"batch_size={batch_size}", "extra.train_samples=6400")
    assert shorter.trainer.max_steps == 6400 // batch_size


def test_the_docs_state_the_grid_it_sweeps():
    params = _params(compose_cfg("experiment=your_model", hydra=True))
    docs = (REPO / "docs" / "your_model.md").read_text()
    grid = " x ".join(f"`{key}={params[key]}`" for key in ("norm", "batch_size", "seed"))
    assert grid in docs, grid

