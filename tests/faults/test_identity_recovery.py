"""Without a readable summary.json, identity.json or .hydra/config.yaml says whose run a directory holds; a
directory nobody can place is refused in one line, never overwritten. Commands run forked (tests/forked.py)."""

import json

import pytest
from omegaconf import OmegaConf

from normbench.engine.run import run_experiment
from normbench.errors import ConfigError
from normbench.rundir.contract import CHECKPOINT_SIDECAR, HYDRA_CONFIG, IDENTITY, SUMMARY
from normbench.rundir.identity import identity_record
from tests.sweeps.conftest import summaries, tally_counts, tiny_sweep_argv, write_tiny_study

from .conftest import one_error_line, snapshot

RUN0 = "mlp_batch_synthetic_bs50_adam-lr0.01_s0"


def _run(cfg, run_dir):
    """run_experiment as `normbench train` calls it, with the resolved config written to .hydra/config.yaml."""
    return run_experiment(cfg, run_dir, extra_files={HYDRA_CONFIG: OmegaConf.to_yaml(cfg, resolve=True)})


def _corrupt(path):
    path.write_text(path.read_text()[:25])  # cut short, as a full disk or a crash of an older writer leaves it


@pytest.fixture
def train(forked_normbench, tmp_path):
    """`normbench train ARGS` forked, its output kept beside (never inside) the results."""
    return lambda *args: forked_normbench.train(tmp_path / "logs", *args)


@pytest.fixture
def finished(train, tmp_path):
    """One finished run of the tiny study (seed 0, 20 steps): (results dir, config dir, its run directory)."""
    conf = write_tiny_study(tmp_path / "conf", max_steps=20)
    results = tmp_path / "results"
    out = train(*tiny_sweep_argv(results, conf, "seed=0"))
    assert out.returncode == 0, out.stderr
    return results, conf, results / "tiny" / RUN0


def _edit_study(conf):
    study = conf / "experiment" / "tiny.yaml"
    study.write_text(study.read_text().replace("max_steps: 20", "max_steps: 30"))  # same run name, other config


def test_a_corrupt_summary_does_not_let_another_configuration_overwrite_the_run(finished, train):
    results, conf, run_dir = finished
    _corrupt(run_dir / SUMMARY)
    _edit_study(conf)
    before = snapshot(run_dir)
    out = train("--config-dir", str(conf), "experiment=tiny", "data=synthetic", "seed=0", f"results_dir={results}")
    assert out.returncode == 2
    line = one_error_line(out.stderr)
    assert f"{run_dir} holds a run of a different configuration" in line and "from its identity.json" in line
    assert "pass force=true to replace it" in line
    assert snapshot(run_dir) == before


def test_in_a_sweep_the_refused_run_is_invalid_and_untouched(finished, train):
    results, conf, run_dir = finished
    _corrupt(run_dir / SUMMARY)
    _edit_study(conf)
    before = snapshot(run_dir)
    out = train(*tiny_sweep_argv(results, conf, "seed=0"))
    assert out.returncode == 1
    assert tally_counts(out.stdout)["invalid"] == 1
    assert "holds a run of a different configuration" in out.stdout
    assert snapshot(run_dir) == before


def test_a_killed_run_of_another_configuration_is_not_overwritten(tiny_cfg, tmp_path):
    run_dir = tmp_path / "run"
    _run(tiny_cfg("trainer.max_steps=20"), run_dir)
    (run_dir / SUMMARY).unlink()  # killed before its summary: identity.json, written at the start, says whose
    before = snapshot(run_dir)
    with pytest.raises(ConfigError, match=r"holds a run of a different configuration .*from its identity.json"):
        _run(tiny_cfg("trainer.max_steps=30"), run_dir)
    assert snapshot(run_dir) == before


def test_without_summary_or_identity_the_recorded_config_decides(tiny_cfg, tmp_path):
    run_dir = tmp_path / "run"
    _run(tiny_cfg("trainer.max_steps=20"), run_dir)
    _corrupt(run_dir / SUMMARY)
    (run_dir / IDENTITY).unlink()
    before = snapshot(run_dir)
    with pytest.raises(ConfigError, match=r"different configuration .*from its \.hydra/config\.yaml"):
        _run(tiny_cfg("trainer.max_steps=30"), run_dir)
    assert snapshot(run_dir) == before


def test_the_same_configuration_is_recognised_from_each_record_and_run_again(tiny_cfg, tmp_path, caplog):
    cfg = tiny_cfg("trainer.max_steps=20")
    run_dir = tmp_path / "run"
    first = _run(cfg, run_dir)
    for lost in (IDENTITY, None):  # identity.json missing (recorded config decides), then present
        _corrupt(run_dir / SUMMARY)
        if lost:
            (run_dir / lost).unlink()
        caplog.clear()
        again = _run(cfg, run_dir)
        assert again["status"] == "completed" and again["config_hash"] == first["config_hash"]
        assert "summary.json is corrupt" in caplog.text and "names this configuration: running it" in caplog.text
        assert json.loads((run_dir / SUMMARY).read_text()) == again


def test_a_directory_whose_configuration_cannot_be_read_is_refused_until_forced(finished, train):
    results, conf, run_dir = finished
    _corrupt(run_dir / SUMMARY)
    _corrupt(run_dir / IDENTITY)
    (run_dir / HYDRA_CONFIG).write_text("model: [unclosed\n")
    before = snapshot(run_dir)
    args = ("--config-dir", str(conf), "experiment=tiny", "data=synthetic", "seed=0", f"results_dir={results}")
    out = train(*args)
    assert out.returncode == 2
    line = one_error_line(out.stderr)
    assert f"{run_dir} holds a run whose configuration cannot be read (summary.json is corrupt" in line
    assert "identity.json is corrupt" in line and ".hydra/config.yaml cannot be read" in line
    assert "pass force=true to replace it, or move the directory away to keep it" in line
    assert snapshot(run_dir) == before

    forced = train(*args, "force=true")
    assert forced.returncode == 0, forced.stderr
    assert summaries(results / "tiny")[RUN0]["status"] == "completed"


def test_with_only_metrics_and_a_checkpoint_left_the_checkpoint_sidecar_decides(tiny_cfg, tmp_path):
    run_dir = tmp_path / "run"
    cfg = tiny_cfg("trainer.max_steps=20", "trainer.checkpoint_interval=5")
    _run(cfg, run_dir)
    (run_dir / SUMMARY).unlink()
    (run_dir / IDENTITY).unlink()
    (run_dir / HYDRA_CONFIG).unlink()
    sidecar = {"format": 2, "config_hash": identity_record(cfg)["config_hash"], "step": 20}
    (run_dir / CHECKPOINT_SIDECAR).write_text(json.dumps(sidecar))  # a killed run's, its other records lost
    before = snapshot(run_dir)
    with pytest.raises(ConfigError, match=r"different configuration .*from its checkpoint\.json"):
        _run(tiny_cfg("trainer.max_steps=30"), run_dir)
    assert snapshot(run_dir) == before


def test_the_advice_to_keep_both_runs_works_when_followed(finished, train, tmp_path):
    """The refusal's advice for keeping both runs is followed as written: a study of one's own in a user_dir
    (`experiment=NAME` alone only selects a study that exists, so the message no longer suggests it)."""
    results, conf, run_dir = finished
    _edit_study(conf)
    before = snapshot(run_dir)
    out = train("--config-dir", str(conf), "experiment=tiny", "data=synthetic", "seed=0", f"results_dir={results}")
    line = one_error_line(out.stderr)
    assert "keep both: another results_dir=DIR, or a study of your own (user_dir=DIR with " in line
    assert "DIR/configs/experiment/NAME.yaml saying `experiment: NAME`, then experiment=NAME)" in line
    mine = tmp_path / "mine"
    (mine / "configs" / "experiment").mkdir(parents=True)
    edited = (conf / "experiment" / "tiny.yaml").read_text()
    (mine / "configs" / "experiment" / "tiny30.yaml").write_text(edited.replace("experiment: tiny", "experiment: tiny30"))
    out = train(f"user_dir={mine}", "experiment=tiny30", "data=synthetic", "seed=0", f"results_dir={results}")
    assert out.returncode == 0, out.stderr
    assert json.loads((results / "tiny30" / RUN0 / SUMMARY).read_text())["max_steps"] == 30
    assert snapshot(run_dir) == before
