"""`normbench advise`: which norms it sweeps, and the whole command on a tiny budget, in this process."""

from pathlib import Path

import pandas as pd
import pytest

from normbench.cli.advise import main as advise_main
from normbench.errors import ConfigError
from normbench.launch import advise
from normbench.norms import NORMS, traits

TINY = ["data=synthetic", "data.num_train=200", "data.num_test=100", "trainer.max_steps=12", "trainer.eval_interval=6",
        "trainer.log_interval=3", "progress=false", "num_threads=1"]


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


def test_advise_end_to_end_then_resumes(tmp_path, capsys):
    overrides = ["model=mlp", *TINY, "batch_size=20", "norm=batch,layer", "seed=0,1", "hydra/launcher=basic",
                 f"results_dir={tmp_path}", "--out", str(tmp_path / "advice")]
    assert advise_main(overrides) == 0
    printed = capsys.readouterr().out
    assert "normbench train -m" in printed and "hydra/launcher=basic" in printed and "launcher=local" not in printed
    assert "mlp · synthetic · batch size 20 · adam lr=0.01" in printed
    table = printed[printed.index("norm  "):]
    assert table.splitlines()[0].split()[:2] == ["norm", "val"]
    rows = {line.split()[0] for line in table.splitlines()[2:4]}
    assert rows == {"batch", "layer"}
    recommendations = pd.read_csv(tmp_path / "advice" / "recommendations.csv")
    assert len(recommendations) == 1 and recommendations.loc[0, "norm"] in ("batch", "layer")
    assert recommendations.loc[0, "batch_size"] == 20 and recommendations.loc[0, "seeds"] == 2
    report = (tmp_path / "advice" / "report.md").read_text()
    assert report.startswith("# normbench report\n\n## Recommendation\n")
    assert recommendations.loc[0, "statement"] in report
    # Rerun (the sweep only, one of its runs to keep it short): the finished run is found and skipped.
    [arguments] = advise.plan([*overrides[:-2], "norm=batch", "seed=0"], "quick").arguments()
    status, tally = advise.run_sweep(arguments)
    assert status == 0 and tally.counts["skipped"] == 1 and tally.counts["completed"] == 0
    [run] = advise.run_dirs(tally)
    assert run.name.startswith("mlp_batch_synthetic_bs20_adam-lr0.01_s0_advise=quick")


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
