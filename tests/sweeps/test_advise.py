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


def test_sweeps_one_after_another_in_one_process_each_keep_their_own_tally(tmp_path):
    """launcher=local's workers outlive a sweep; one reused by the next sweep must not record into the first's
    ledger (the second tally would count its runs as unreported)."""
    base = ["-m", "model=mlp", "data=synthetic", "data.num_train=100", "data.num_test=50", "batch_size=20", "trainer.max_steps=5",
            "trainer.eval_interval=5", "progress=false", "num_threads=1", "launcher=local", f"results_dir={tmp_path}",
            "norm=layer"]
    first_status, first = advise.run_sweep([*base, "seed=0,1"])
    second_status, second = advise.run_sweep([*base, "seed=2,3"])
    assert first_status == 0 and first.counts["completed"] == 2
    assert second_status == 0 and second.counts["completed"] == 2 and second.unreported == 0
    assert sorted("_s2_" in record["run"] or "_s3_" in record["run"] for record in second.records) == [True, True]
