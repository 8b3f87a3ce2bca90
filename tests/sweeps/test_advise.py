"""`normbench advise`: which norms apply (the protocol's stages end to end: test_advise_race.py)."""

from pathlib import Path

import pytest

from normbench.cli.advise import main as advise_main
from normbench.config.paths import config_dir
from normbench.errors import ConfigError
from normbench.launch import advise
from normbench.norms import NORMS, traits

TINY = ["data=synthetic", "data.num_train=200", "data.num_test=100", "trainer.max_steps=12", "trainer.eval_interval=6",
        "trainer.log_interval=3", "progress=false", "num_threads=1"]


def _norms_by_size(plan) -> dict[int, set]:
    by_size: dict[int, set] = {}
    for sweep in plan.sweeps:
        for size in sweep.batch_sizes:
            by_size.setdefault(size, set()).update(sweep.norms)
    return by_size


def test_plan_sweeps_every_applicable_norm_per_batch_size():
    plan = advise.plan(["model=mlp", "batch_size=1,50"], "quick")
    by_size = _norms_by_size(plan)
    # The package's own norms: a plugin another test of this worker loaded (user_dir) stays registered, but its
    # config is not on this plan's search path.
    own = {path.stem for path in (config_dir() / "norm").glob("*.yaml")}
    batch_dependent = {name for name in NORMS.names() if name in own and traits(name).batch_dependent}
    assert batch_dependent and not by_size[1] & batch_dependent  # one sample has no batch statistics
    assert batch_dependent <= by_size[50]
    assert "instance" not in by_size[50]  # instance norm has no meaning on an MLP's feature vectors
    assert {"layer", "group", "none"} <= by_size[1]
    for arguments in plan.arguments():
        assert "advise=quick" in arguments and "launcher=local" in arguments and "seed=0,1,2" in arguments
    assert ("leaves out batch, batch_renorm, ghost_batch, switch at batch_size=1: statistics across the batch need "
            "batch_size >= 2") in plan.notes
    assert any(note.startswith("leaves out instance: norm=instance has no meaning on a feature vector")
               for note in plan.notes)


def test_plan_composes_a_user_dirs_norm_from_its_configs():
    plugins = Path(__file__).resolve().parents[2] / "examples" / "plugins"
    plan = advise.plan(["model=cnn", f"user_dir={plugins}", "norm=mean_only,batch"], "quick")
    assert [sweep.norms for sweep in plan.sweeps] == [("mean_only", "batch")]


def test_plan_refuses_a_norm_that_does_not_apply():
    with pytest.raises(ConfigError, match="norm=instance does not apply to model=mlp.*norms that apply: .*layer"):
        advise.plan(["model=mlp", "norm=layer,instance"], "quick")


SIXTEEN = ["model=cnn", "model.channels=[16,16,16]"]


def _sweep_of(plan, norm):
    [sweep] = [sweep for sweep in plan.sweeps if norm in sweep.norms]
    return sweep


def test_group_gets_a_group_count_that_divides_the_models_channels_by_the_stated_rule():
    plan = advise.plan(SIXTEEN, "quick")  # the YAML's norm.groups=5 divides no site of 16 channels
    group = _sweep_of(plan, "group")
    assert group.norms == ("group",) and group.settings == ("norm.groups=8",)
    assert "norm.groups=8" in plan.arguments()[plan.sweeps.index(group)]
    assert not _sweep_of(plan, "batch").settings  # the other norms' sweep has no key of GroupNorm's
    [note] = [note for note in plan.notes if "norm.groups=8" in note]
    assert note.startswith("group runs with norm.groups=8 for norm sites of 16 channels: the largest count <= 32")


@pytest.mark.parametrize("extra", [[], ["norm=group,batch,layer"]])
def test_a_norms_own_setting_goes_to_the_norms_that_have_that_key_only(extra):
    plan = advise.plan([*SIXTEEN, "norm.groups=4", *extra], "quick")
    assert _sweep_of(plan, "group").settings == ("norm.groups=4",)
    others = [sweep for sweep in plan.sweeps if "group" not in sweep.norms]
    assert {"batch", "layer"} <= {norm for sweep in others for norm in sweep.norms}
    assert not any("norm.groups=4" in arguments for sweep, arguments in zip(plan.sweeps, plan.arguments())
                   if sweep in others)
    assert not any("groups" in note for note in plan.notes)  # the user's count: no rule to state


def test_a_norm_setting_no_norm_has_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"^norm.groupz is a key of none of the norms advise would run "
                                          r"\(group, layer\); their keys: .*norm.groups"):
        advise.plan([*SIXTEEN, "norm=group,layer", "norm.groupz=4"], "quick")


def test_a_group_count_that_does_not_divide_is_a_norm_left_out_with_its_reason():
    plan = advise.plan([*SIXTEEN, "norm.groups=5"], "quick")
    assert "group" not in {norm for sweep in plan.sweeps for norm in sweep.norms}
    assert "leaves out group: norm.groups=5 does not divide the 16 channels of model=cnn; choose one of: 1, 2, 4, 8, " \
           "16" in plan.notes


def test_ghost_batch_at_least_the_batch_is_batch_and_is_not_a_separate_arm():
    plan = advise.plan(["model=cnn", "batch_size=4,16,50"], "quick")  # configs/norm/ghost_batch.yaml: 25
    by_size = _norms_by_size(plan)
    assert "ghost_batch" not in by_size[4] | by_size[16] and {"batch", "ghost_batch"} <= by_size[50]
    ghost = [note for note in plan.notes if "ghost_batch" in note]
    assert ghost == ["leaves out ghost_batch at batch_size=4,16: with norm.virtual_batch_size=25 >= the batch size it "
                     "is batch exactly (one virtual batch per step): not run as a separate arm"]
    # Asked for without batch it is what the user asked for: it runs.
    alone = advise.plan(["model=cnn", "batch_size=4", "norm=ghost_batch,layer"], "quick")
    assert [sweep.norms for sweep in alone.sweeps] == [("ghost_batch", "layer")] and not alone.notes


def test_advise_sweeps_group_with_its_own_setting_beside_another_norm(tmp_path, monkeypatch):
    """Each stage's sweep of the protocol: the norms that share settings in one `normbench train -m`, GroupNorm's own
    group count in a sweep of its own (one -m cannot give a key to one norm of its list only)."""
    from normbench.launch import protocol

    swept = []
    monkeypatch.setattr(advise, "run_sweep", lambda arguments: swept.append(arguments) or (0, _NoRuns()))
    question = protocol.question([*SIXTEEN, *TINY, "data.shape=[1,32]", "norm=batch,group", "norm.groups=2",
                                  f"results_dir={tmp_path}"],
                                 "quick")
    assert set(question.norms) == {"batch", "group"}
    assert question.settings["group"] == ("norm.groups=2",) and question.settings["batch"] == ()
    protocol.Advisor(question).sweep(question.norms, (1e-2,), 10, (0,))
    by_norm = {next(a for a in arguments if a.startswith("norm=")): arguments for arguments in swept}
    assert set(by_norm) == {"norm=batch", "norm=group"}
    assert "norm.groups=2" in by_norm["norm=group"] and "norm.groups=2" not in by_norm["norm=batch"]


class _NoRuns:
    """A tally of a sweep that trained nothing (the sweep itself is faked)."""

    records: list = []
    sweep_dir = "."


def test_advise_refuses_an_out_that_is_a_file_before_training_anything(tmp_path, capsys, monkeypatch):
    out = tmp_path / "advice.md"
    out.write_text("someone's notes")
    trained = []
    monkeypatch.setattr(advise, "run_sweep", lambda arguments: trained.append(arguments) or (0, None))
    overrides = ["model=mlp", *TINY, f"results_dir={tmp_path / 'results'}", "--out", str(out)]
    assert advise_main(overrides) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("normbench advise: error: --out ") and "is a file" in lines[0]
    assert trained == [] and "normbench train" not in captured.out
    assert out.read_text() == "someone's notes" and not (tmp_path / "results").exists()
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
