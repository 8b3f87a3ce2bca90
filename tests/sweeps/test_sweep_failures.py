"""Failures are isolated: a run that raises is recorded as failed and the sweep goes on; the sweep ends
with a tally and exits non-zero if any run failed or was invalid (diverged is a result, not an error)."""

from normbench.launch.tally import Tally

from .conftest import BASE, normbench_train, run_dirs, summaries, tally_counts, tiny_sweep


def test_a_run_failing_mid_training_is_recorded_and_the_sweep_goes_on(tiny_copy):
    results, conf = tiny_copy
    study = results / "tiny"
    victim = next(run for run in run_dirs(study) if run.name.endswith("_s1"))
    # A directory where the run's checkpoint goes: its first checkpoint write fails, mid-training (a real
    # OSError, as from a full or read-only disk).
    (victim / "checkpoint.pt").mkdir()

    out = tiny_sweep(results, conf, "force=true", "trainer.checkpoint_interval=5")
    assert out.returncode == 1
    assert tally_counts(out.stdout) == {"completed": 2, "diverged": 0, "failed": 1, "interrupted": 0, "skipped": 0, "invalid": 0}
    failed = summaries(study)[victim.name]
    assert failed["status"] == "failed" and "IsADirectoryError" in failed["error"]
    assert failed["final_test_acc"] is None
    assert f"failed: {victim.name}: IsADirectoryError" in out.stdout  # the tally names the run and its error
    assert all(s["status"] == "completed" for name, s in summaries(study).items() if name != victim.name)

    # Once the cause is gone, re-running the sweep retries the failed run and skips the others.
    (victim / "checkpoint.pt").rmdir()
    retry = tiny_sweep(results, conf, "trainer.checkpoint_interval=5")
    assert retry.returncode == 0, retry.stderr
    assert tally_counts(retry.stdout) == {"completed": 1, "diverged": 0, "failed": 0, "interrupted": 0, "skipped": 2, "invalid": 0}
    assert summaries(study)[victim.name]["status"] == "completed"


def test_invalid_and_diverged_runs_are_tallied(tmp_path):
    out = normbench_train("-m", *BASE, f"results_dir={tmp_path}", "data.num_train=200", "batch_size=50",
                          "trainer.max_steps=20", "num_threads=1", "progress=false",
                          "model.layer_norms=[batch],[layer,layer]",  # one norm for two hidden layers: invalid
                          "trainer.divergence_loss=0.001,10000")  # any real loss exceeds 0.001: diverged
    assert out.returncode == 1
    assert tally_counts(out.stdout) == {"completed": 1, "diverged": 1, "failed": 0, "interrupted": 0, "skipped": 0, "invalid": 2}
    assert out.stdout.count("invalid: mlp_batch_synthetic") == 2
    assert "model.layer_norms has 1 entries but model.hidden has 2 layers" in out.stdout
    study = tmp_path / "default"
    assert sorted(s["status"] for s in summaries(study).values()) == ["completed", "diverged"]
    assert len(run_dirs(study)) == 2  # invalid runs leave no directory behind


def _tally(*statuses, total=None):
    records = [{"job": i, "run": f"run{i}", "status": s, "error": None} for i, s in enumerate(statuses)]
    return Tally("study", "results/study", total if total is not None else len(records), 1.0, records)


def test_only_failed_invalid_or_unreported_runs_make_a_sweep_fail():
    assert _tally("completed", "diverged", "skipped").ok
    assert not _tally("completed", "failed").ok
    assert not _tally("completed", "invalid").ok
    lost = _tally("completed", total=2)  # a job that never reported (killed, or lost by the launcher)
    assert not lost.ok and "unreported" in lost.table()
