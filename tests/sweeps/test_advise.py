"""`normbench advise`: which norms apply (the protocol's stages end to end: test_advise_race.py)."""

from pathlib import Path

import pytest

from normbench.errors import ConfigError
from normbench.launch import advise
from normbench.norms import NORMS, traits


def test_plan_sweeps_every_applicable_norm_per_batch_size():
    plan = advise.plan(["model=mlp", "batch_size=1,50"], "quick")
    by_size = {size: set(sweep.norms) for sweep in plan.sweeps for size in sweep.batch_sizes}
    batch_dependent = {name for name in NORMS.names() if traits(name).batch_dependent}
    assert batch_dependent and not by_size[1] & batch_dependent  # one sample has no batch statistics
    assert batch_dependent <= by_size[50]
    assert "instance" not in by_size[50]  # instance norm has no meaning on an MLP's feature vectors
    assert {"layer", "group", "none"} <= by_size[1]
    [arguments, _] = plan.arguments()
    assert "advise=quick" in arguments and "launcher=local" in arguments and "seed=0,1,2" in arguments


def test_plan_composes_a_user_dirs_norm_from_its_configs():
    plugins = Path(__file__).resolve().parents[2] / "examples" / "plugins"
    plan = advise.plan(["model=cnn", f"user_dir={plugins}", "norm=mean_only,batch"], "quick")
    assert [sweep.norms for sweep in plan.sweeps] == [("mean_only", "batch")]


def test_plan_refuses_a_norm_that_does_not_apply():
    with pytest.raises(ConfigError, match="norm=instance does not apply to model=mlp.*norms that apply: .*layer"):
        advise.plan(["model=mlp", "norm=layer,instance"], "quick")
