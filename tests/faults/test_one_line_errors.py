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
