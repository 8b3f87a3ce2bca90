"""Faults that once ended in a traceback and deserve one line (exit 2, nothing written): an output directory
with a file in its way, ... Commands run forked (tests/forked.py) unless a fresh process matters."""

import shutil

import pytest

from .conftest import TINY, one_error_line, snapshot

ARGS = [*TINY, "trainer.max_steps=5"]


@pytest.fixture
def train(forked_normbench, tmp_path):
    def run(*args, sweep=False):
        return forked_normbench.train(tmp_path / "logs", *(["-m"] if sweep else []), *ARGS, *args)
    return run


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_an_experiment_directory_that_is_a_file_is_refused_in_one_line(train, tmp_path, sweep):
    results = tmp_path / "results"
    results.mkdir()
    (results / "default").write_text("a file where the experiment's directory goes")
    before = snapshot(results)
    out = train(f"results_dir={results}", sweep=sweep)
    assert out.returncode == 2, out.stderr
    line = one_error_line(out.stderr)
    assert str(results / "default") in line and "move the file away" in line
    assert snapshot(results) == before


def test_a_run_directory_that_is_a_file_is_refused_in_one_line(train, tmp_path):
    results = tmp_path / "results"
    first = train(f"results_dir={results}")
    assert first.returncode == 0, first.stderr
    (run_dir,) = (results / "default").iterdir()
    shutil.rmtree(run_dir)
    run_dir.write_text("a file where the run's directory goes")
    out = train(f"results_dir={results}")
    assert out.returncode == 2, out.stderr
    line = one_error_line(out.stderr)
    assert "is a file" in line and run_dir.name in line
    assert run_dir.read_text() == "a file where the run's directory goes"


def test_a_run_directory_that_is_a_file_in_a_sweep_is_invalid_in_one_line_and_the_sweep_goes_on(train, tmp_path):
    results = tmp_path / "results"
    first = train(f"results_dir={results}", "seed=0")
    assert first.returncode == 0, first.stderr
    (run_dir,) = (results / "default").iterdir()
    shutil.rmtree(run_dir)
    run_dir.write_text("a file where the run's directory goes")
    out = train(f"results_dir={results}", "seed=0,1", sweep=True)
    assert out.returncode == 1, out.stderr  # the sweep ran on and its tally counts the job invalid
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if "is a file" in line and run_dir.name in line]
    assert errors and "invalid" in errors[0], out.stderr
    assert run_dir.read_text() == "a file where the run's directory goes"
    assert not (results / "default" / ".blocked").exists()  # the empty folder Hydra made for the job is gone
    assert (results / "default" / run_dir.name.replace("_s0", "_s1") / "summary.json").is_file()


def test_an_identity_json_that_is_a_directory_is_named_not_a_temporary_file(train, tmp_path):
    results = tmp_path / "results"
    assert train(f"results_dir={results}").returncode == 0
    (run_dir,) = (results / "default").iterdir()
    (run_dir / "summary.json").unlink()
    (run_dir / "identity.json").unlink()
    (run_dir / "identity.json").mkdir()
    out = train(f"results_dir={results}")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    (line,) = [line for line in out.stderr.splitlines() if line.startswith("normbench: error: ")]
    assert str(run_dir / "identity.json") in line and "Is a directory" in line
    assert ".tmp" not in line
    assert list(run_dir.glob(".*.tmp")) == []


def test_an_atomic_write_that_fails_names_its_target(tmp_path, monkeypatch):
    import errno
    import os

    from normbench.rundir.atomic import write_text_atomic

    def read_only(source, target):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), source, None, target)

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.raises(OSError) as raised:
        write_text_atomic(tmp_path / "summary.json", "{}")
    assert raised.value.filename == str(tmp_path / "summary.json") and raised.value.errno == errno.EROFS
    assert list(tmp_path.iterdir()) == []


def _nest(path, depth=100_000):
    path.write_text("[" * depth + "]" * depth)


def test_a_summary_nested_100000_levels_deep_is_unreadable_to_train_and_to_the_report(train, tmp_path, capsys):
    from normbench.report.cli import main as report

    results = tmp_path / "results"
    assert train(f"results_dir={results}").returncode == 0
    (run_dir,) = (results / "default").iterdir()
    _nest(run_dir / "summary.json")
    assert report([str(results), "--out", str(tmp_path / "report"), "--formats", "png", "--no-html"]) == 0
    runs = (tmp_path / "report" / "runs.csv").read_text()
    assert "unreadable" in runs and "nested too deeply" in runs

    out = train(f"results_dir={results}")  # identity.json names this configuration: trained again
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "summary.json is corrupt (nested too deeply)" in out.stderr
    assert '"status": "completed"' in (run_dir / "summary.json").read_text()
