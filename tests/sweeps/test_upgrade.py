"""Results outlive upgrades: run directories written by normbench 0.1 (tests/fixtures/v1, identity version 1)
are migrated in place, skipped by the same sweep re-launched, pooled with new seeds by the report, and the
same configurations trained today give the same numbers."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from normbench.report.load import load_runs
from normbench.rundir.migrate import LEGACY_CONFIG, migrate_tree

from .conftest import normbench_train, run_dirs, summaries, tally_counts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v1"
UPGRADE = ["experiment=upgrade", "data=synthetic", "model=mlp"]
MODELS = ["experiment=models", "data=digits", "device=cpu"]  # the fixtures are CPU runs: same numbers on a CPU


# The identities today's code gives the fixtures' runs (identity version 2), computed before data.val_fraction
# existed: a recorded config without the key is read at its legacy value (0: all training data), so they stay.
MIGRATED_HASHES = {
    "models/cnn_batch_digits_bs50_adam-lr0.01_s0": "954cb7dec8bb", "models/cnn_layer_digits_bs50_adam-lr0.01_s0":
    "bb991c7c9e19", "models/mlp_batch_digits_bs50_adam-lr0.01_s0": "3e12ce29d643",
    "models/mlp_layer_digits_bs50_adam-lr0.01_s0": "a54164aa8124", "models/rnn-gru_batch_digits_bs50_adam-lr0.01_s0":
    "64e69136b00b", "models/rnn-gru_layer_digits_bs50_adam-lr0.01_s0": "1ef634f6e57f",
    "upgrade/mlp_batch_synthetic_bs50_adam-lr0.01_s0": "99ee55ede0df", "upgrade/mlp_batch_synthetic_bs50_adam-lr0.01_s1":
    "a17e703b242e", "upgrade/mlp_layer_synthetic_bs50_adam-lr0.01_s0": "91856ef8fe11",
    "upgrade/mlp_layer_synthetic_bs50_adam-lr0.01_s1": "ec69558a45ff"}


@pytest.fixture
def legacy(tmp_path):
    """The fixtures, their studies continued as they were made: on all the training data (data.val_fraction=0,
    so chosen on the test set: objective=final_test_acc)."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    for experiment in (tmp_path / "conf" / "experiment").glob("*.yaml"):
        study = yaml.safe_load(experiment.read_text())
        study.setdefault("data", {})["val_fraction"] = 0
        study["objective"] = "final_test_acc"
        experiment.write_text("# @package _global_\n" + yaml.safe_dump(study))
    return tmp_path / "results", tmp_path / "conf"


def test_runs_written_before_the_validation_split_keep_the_identity_they_had(legacy):
    results, _ = legacy
    migrate_tree(results)
    hashes = {f"{study.name}/{name}": s["config_hash"] for study in (results / "models", results / "upgrade")
              for name, s in summaries(study).items()}
    assert hashes == MIGRATED_HASHES


def _sweep(results, conf, *args):
    return normbench_train("-m", "--config-dir", str(conf), f"results_dir={results}", *args)


def _files(root: Path) -> dict[str, bytes]:
    """Every file of every run directory under `root` (not the sweep's own multirun.yaml or ledger)."""
    return {str(p.relative_to(root)): p.read_bytes() for study in sorted(root.iterdir()) for run in run_dirs(study)
            for p in sorted(run.rglob("*")) if p.is_file()}


def test_an_unmigrated_run_is_refused_with_the_command_that_fixes_it(legacy):
    results, conf = legacy
    before = _files(results)
    out = _sweep(results, conf, *UPGRADE)
    assert out.returncode == 1
    assert tally_counts(out.stdout)["invalid"] == 4
    assert f"normbench migrate {results / 'upgrade'}" in out.stderr
    assert _files(results) == before  # nothing overwritten


def test_migrated_runs_are_skipped_and_pooled_with_new_seeds(legacy):
    results, conf = legacy
    migrations = migrate_tree(results)
    assert [m.outcome for m in migrations] == ["migrated"] * 10
    old = {name: s["migrated_from"] for name, s in summaries(results / "upgrade").items()}
    assert all(entry["identity_version"] == 1 for entry in old.values())

    again = _sweep(results, conf, *UPGRADE)
    assert again.returncode == 0, again.stderr
    assert tally_counts(again.stdout)["skipped"] == 4 and tally_counts(again.stdout)["completed"] == 0

    more = _sweep(results, conf, *UPGRADE, "seed=2")  # a third seed, trained by today's normbench
    assert tally_counts(more.stdout)["completed"] == 2, more.stderr
    runs = load_runs([results / "upgrade"]).runs
    assert set(runs.status) == {"completed"} and len(runs) == 6
    seeds = runs.groupby("norm").agg(groups=("group_hash", "nunique"), seeds=("seed", "nunique"))
    assert seeds.to_dict("index") == {"batch": {"groups": 1, "seeds": 3}, "layer": {"groups": 1, "seeds": 3}}


def test_migration_is_idempotent_keeps_the_old_config_and_touches_no_metrics(legacy):
    results, _ = legacy
    run = results / "models" / "rnn-gru_batch_digits_bs50_adam-lr0.01_s0"
    original_config, metrics = (run / ".hydra" / "config.yaml").read_text(), (run / "metrics.csv").read_bytes()
    assert [m.outcome for m in migrate_tree(results, dry_run=True)] == ["migrated"] * 10
    assert (run / ".hydra" / "config.yaml").read_text() == original_config  # a dry run writes nothing
    migrate_tree(results)
    once = _files(results)
    assert [m.outcome for m in migrate_tree(results)] == ["current"] * 10
    assert _files(results) == once
    assert (run / LEGACY_CONFIG).read_text() == original_config
    assert "channels" not in (run / ".hydra" / "config.yaml").read_text()  # today's form: the RNN's own keys
    assert (run / "metrics.csv").read_bytes() == metrics
    identity = json.loads((run / "identity.json").read_text())
    assert identity["config_hash"] == json.loads((run / "summary.json").read_text())["config_hash"]


# The fixtures were trained on another CPU (tests/fixtures/v1/README.md): convolution and matmul kernels are
# chosen by instruction set (AVX2 vs AVX-512, Intel vs AMD), so their sums round differently, and 20 steps of
# Adam amplify a last-bit difference. Measured on two AMD EPYC machines against the fixture: the CNN+BN run's
# final train loss 0.72083 and 0.72134 vs 0.72095 (5e-4 relative at most), its final test loss 0.75325 vs
# 0.74406 (1.2%: evaluated with BN's running statistics, which accumulate every step's difference), the MLP+BN
# test loss 1.3e-3, every other loss 1e-7 or closer, accuracies within one test digit (1/360). Allowed across
# machines: 5% on a loss (4x the largest seen; the BN-vs-LN differences these runs show are 11% and more), and
# 0.02 on an accuracy (7 of the 360 test digits, 10 of the 500 samples of the last training window). A change
# in what the code computes is caught exactly by the comparison on one machine below, not by these.
ACROSS_MACHINES = {"final_train_loss": {"rel": 5e-2}, "final_test_loss": {"rel": 5e-2},
                   "final_train_acc": {"abs": 0.02}, "final_test_acc": {"abs": 0.02}}

def _numbers(run_dir: Path) -> pd.DataFrame:
    """Every number of a run's metrics.csv but the measured speed."""
    return pd.read_csv(run_dir / "metrics.csv").query("metric != 'samples_per_s'").reset_index(drop=True)


def _retrain_recorded(run_dir: Path, into: Path) -> dict:
    """Train again, in this process, the configuration a (migrated) run directory records."""
    import yaml
    from omegaconf import OmegaConf

    from normbench.config.typed import typed_config
    from normbench.engine.run import run_experiment
    from normbench.trackers._registry import TRACKERS

    cfg = typed_config(yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text()))
    # How the run is shown and where it is written are not part of what it computes (no tracker in 0.1).
    cfg.logger = OmegaConf.merge(OmegaConf.structured(TRACKERS.get("none").config), {"name": "none"})
    cfg.device, cfg.results_dir = "cpu", str(into.parent)
    return run_experiment(cfg, into)


def test_the_same_configurations_give_the_same_numbers_as_before(legacy, tmp_path):
    """One run per model (MLP, CNN, GRU) x BN/LN. The identity is compared exactly with the fixture's. The numbers
    are produced both ways on this machine, bit for bit: the configuration each migrated run records, trained
    again, against the same sweep launched from scratch (the guarantee on one machine). Against the numbers the
    fixture recorded on another CPU they agree within ACROSS_MACHINES (docs/reliability.md, section 9)."""
    _, conf = legacy
    fresh = tmp_path / "fresh"
    out = _sweep(fresh, conf, *MODELS)
    assert out.returncode == 0, out.stderr
    migrate_tree(legacy[0])
    before, after = summaries(legacy[0] / "models"), summaries(fresh / "models")
    assert sorted(after) == sorted(before) and len(after) == 6
    for name, summary in after.items():
        assert summary["config_hash"] == before[name]["config_hash"]  # the migrated identity is today's
        assert summary["num_params"] == before[name]["num_params"]
        for key, tolerance in ACROSS_MACHINES.items():
            assert summary[key] == pytest.approx(before[name][key], **tolerance), (name, key)
        again = _retrain_recorded(legacy[0] / "models" / name, tmp_path / "retrained" / "models" / name)
        assert again["config_hash"] == summary["config_hash"]
        for key in (*ACROSS_MACHINES, "steps"):
            assert again[key] == summary[key], (name, key)  # bit for bit on one machine
        retrained = _numbers(tmp_path / "retrained" / "models" / name)
        pd.testing.assert_frame_equal(retrained, _numbers(fresh / "models" / name), check_exact=True)
    assert len(run_dirs(fresh / "models")) == 6


@pytest.mark.parametrize("damage", ["corrupt", "directory"])
def test_migrate_reports_an_unreadable_summary_as_unreadable_and_leaves_the_run_alone(legacy, capsys, damage):
    from normbench.cli.migrate import main

    results = legacy[0]
    run = sorted((results / "upgrade").glob("*/summary.json"))[0].parent
    summary = run / "summary.json"
    summary.unlink()
    if damage == "corrupt":
        summary.write_text('{"status": "compl')
    else:
        summary.mkdir()
    before = {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main([str(results / "upgrade")]) == 1
    out = capsys.readouterr().out
    assert f"unreadable: {run} summary.json" in out
    runs = len(list((results / "upgrade").glob("*/.hydra/config.yaml")))
    assert out.strip().splitlines()[-1] == (f"normbench migrate: migrated {runs - 1}, already current 0, "
                                            f"unreadable 1 (of {runs} run directories)")
    assert {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_migrate_on_a_read_only_file_system_says_so_in_one_line(legacy, capsys, monkeypatch):
    import errno
    import os

    from normbench.cli.migrate import main

    def read_only(source, target):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))

    results = legacy[0]
    before = _files(results)
    monkeypatch.setattr(os, "replace", read_only)  # tests run as root, where a chmod does not stop a write
    assert main([str(results / "upgrade")]) == 2
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("normbench migrate: error: "), lines
    assert "Read-only file system" in lines[0] and "migrate` again" in lines[0]
    assert ".tmp" not in lines[0]
    assert _files(results) == before
