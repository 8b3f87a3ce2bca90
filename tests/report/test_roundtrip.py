"""Writer and reader agree: runs written by the real `normbench train` are read back by the report as written.

The report's other tests read synthetic run directories, which follow the contract only as far as
tests/report/synthetic.py does; here the directories come from a real sweep (tiny: synthetic data, 20 steps),
so a file name, the metrics.csv header, a summary key or a hyperparameter tag that changes on one side only
makes a run unreadable, incomplete or ungrouped, and fails these tests.
"""

import json
import shutil

import numpy as np
import pytest

from normbench.report.groups import usable_runs
from normbench.report.load import load_runs
from normbench.report.load.run_config import config_from_hydra
from normbench.rundir.contract import (
    COMPLETED,
    EVENTS_PREFIX,
    FINAL_KEYS,
    HPARAM_KEYS,
    HYDRA_CONFIG,
    HYDRA_DIR,
    METRICS,
    SUMMARY,
)
from tests.sweeps.conftest import normbench_train

MAX_STEPS, EVAL_INTERVAL, LOG_INTERVAL = 20, 10, 10
NORMS, SEEDS = ("batch", "layer"), (0, 1)
SWEEP = ["-m", "data=synthetic", "model=mlp", f"norm={','.join(NORMS)}", f"seed={','.join(map(str, SEEDS))}",
         f"trainer.max_steps={MAX_STEPS}", f"trainer.eval_interval={EVAL_INTERVAL}",
         f"trainer.log_interval={LOG_INTERVAL}", "batch_size=50", "data.num_train=200", "data.num_test=100",
         "progress=false", "num_threads=1"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The results directory of a finished 2-norm × 2-seed sweep, written by `normbench train`."""
    root = tmp_path_factory.mktemp("roundtrip") / "results"
    out = normbench_train(*SWEEP, f"results_dir={root}")
    assert out.returncode == 0, out.stderr
    return root


def _run_dirs(results):
    return sorted(path.parent for path in results.rglob(SUMMARY))


def test_the_sweep_wrote_one_directory_per_run(results):
    runs = _run_dirs(results)
    assert len(runs) == len(NORMS) * len(SEEDS)
    for run in runs:
        assert (run / METRICS).is_file() and list(run.glob(f"{EVENTS_PREFIX}*")) and (run / HYDRA_CONFIG).is_file()


def test_every_run_is_read_back_completed_from_its_summary_and_metrics(results):
    loaded = load_runs([results])
    runs = loaded.runs
    problems = runs.loc[runs["status"] != COMPLETED, ["run_id", "status", "reason"]]
    assert problems.empty, problems.to_string()  # no unreadable, incomplete, failed or duplicate row
    assert len(runs) == len(NORMS) * len(SEEDS)
    assert (runs["source"] == METRICS).all() and (runs["loss_resolution"] == "per step").all()
    assert sorted(zip(runs["norm"], runs["seed"])) == sorted((norm, seed) for norm in NORMS for seed in SEEDS)
    assert set(runs["model_label"]) == {"mlp"} and set(runs["data"]) == {"synthetic"}
    assert set(runs["batch_size"]) == {50} and set(runs["steps"]) == {MAX_STEPS} == set(runs["max_steps"])
    for key in FINAL_KEYS:
        assert runs[key].notna().all(), key


def test_seeds_of_one_norm_pool_into_one_group(results):
    runs = load_runs([results]).runs
    hashes = runs.groupby("norm")["group_hash"].agg(set)
    assert all(len(group) == 1 for group in hashes), hashes.to_dict()  # the seeds of a norm share their group
    assert len(set.union(*hashes)) == len(NORMS)  # and the norms do not
    assert runs["config_hash"].nunique() == len(runs)  # while every run is a configuration of its own
    usable = usable_runs(runs)
    seeds = usable.groupby("group")["seed"].agg(sorted)
    assert len(seeds) == len(NORMS) and all(group_seeds == list(SEEDS) for group_seeds in seeds), seeds.to_dict()


def test_curves_hold_every_step_as_written(results):
    loaded = load_runs([results])
    for run in loaded.runs.itertuples():
        curves = loaded.curves[run.run_id]
        steps, loss = curves["train/loss"]
        assert steps.tolist() == list(range(1, MAX_STEPS + 1))  # the per-step train loss, every step once
        assert np.isfinite(loss).all()
        # The summary's final train loss is the mean of the last log window of those very values.
        assert run.final_train_loss == pytest.approx(loss[-LOG_INTERVAL:].mean())
        test_steps, test_acc = curves["test/acc"]
        assert test_steps.tolist() == list(range(0, MAX_STEPS + 1, EVAL_INTERVAL))
        assert run.final_test_acc == test_acc[-1]


def test_event_files_alone_give_the_same_runs_and_groups(results, tmp_path):
    """Without summary.json and metrics.csv, the report falls back on the event files: the hparams the
    trainer logs must carry every key the reader needs to type and group the run (.hydra/ goes too, so
    its config cannot stand in for them)."""
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    for run in _run_dirs(copy):
        (run / SUMMARY).unlink()
        (run / METRICS).unlink()
        shutil.rmtree(run / HYDRA_DIR)
    by_files = load_runs([results]).runs.set_index("run_id")
    loaded = load_runs([copy])
    runs = loaded.runs.set_index("run_id")
    problems = runs.loc[runs["status"] != COMPLETED, ["status", "reason"]]
    assert problems.empty, problems.to_string()
    assert (runs["source"] == "events").all() and len(runs) == len(by_files)
    for column in (*HPARAM_KEYS, "model_label", "experiment", "steps"):
        assert runs[column].to_dict() == by_files.loc[runs.index, column].to_dict(), column
    hashes = runs.groupby("norm")["group_hash"].agg(set)
    assert all(len(group) == 1 for group in hashes) and len(set.union(*hashes)) == len(NORMS)
    for run_id, run in runs.iterrows():  # the trainer's hparam/final_* scalars, as float32 in the event file
        for key in FINAL_KEYS:
            assert run[key] == pytest.approx(by_files.loc[run_id, key], rel=1e-6), key
        steps, _ = loaded.curves[run_id]["train/loss"]
        assert steps.tolist() == list(range(LOG_INTERVAL, MAX_STEPS + 1, LOG_INTERVAL))  # log-window means


def test_hydra_config_gives_the_summarys_configuration(results):
    """The other fallback for a run without summary.json: the resolved config normbench writes under .hydra/."""
    for run in _run_dirs(results):
        summary = json.loads((run / SUMMARY).read_text())
        config = config_from_hydra(run / HYDRA_CONFIG)
        assert config is not None, run.name
        for key in HPARAM_KEYS:
            assert config[key] == summary[key], (run.name, key)
