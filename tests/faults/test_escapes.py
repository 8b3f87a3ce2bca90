"""A run writes only inside results_dir: an experiment name from any config file must be a plain name, and the
run's directory, resolved, must lie inside results_dir (normbench/config/placement.py). Refused in one line,
exit 2, with nothing written."""

import pytest

from normbench.rundir.contract import plain_name_problem
from tests.faults.conftest import TINY, one_error_line, snapshot

STEPS = ["model=mlp", "trainer.max_steps=20", *TINY]


@pytest.mark.parametrize("name", ["default", "bn_vs_ln", "study-2", "lr=0.1+warmup", "Études"])
def test_plain_names_are_accepted(name):
    assert plain_name_problem(name, "experiment") is None


@pytest.mark.parametrize("name", ["../../escape", "..", ".", "", "a/b", "/tmp/x", ".hidden", "-rf", "=cmd()",
                                  "+1", "@sum", "a b", "tab\tname", "x" * 256])
def test_names_that_are_not_plain_are_refused_in_one_line(name):
    problem = plain_name_problem(name, "experiment")
    assert problem is not None and problem.startswith(f"experiment={name!r} is not a plain name")
    assert "\n" not in problem


def _study(tmp_path, experiment: str):
    """A user_dir with configs/experiment/x.yaml that names its study `experiment`."""
    user = tmp_path / "user"
    (user / "configs" / "experiment").mkdir(parents=True)
    (user / "configs" / "experiment" / "x.yaml").write_text(f"# @package _global_\nexperiment: {experiment!r}\n")
    return user


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_an_experiment_name_from_a_study_yaml_cannot_leave_results_dir(forked_normbench, tmp_path, sweep):
    user = _study(tmp_path, "../../escape")
    results = tmp_path / "a" / "b" / "results"
    before = snapshot(tmp_path)
    out = forked_normbench.train(tmp_path.parent / f"{tmp_path.name}-logs", *(["-m"] if sweep else []),
                                 f"user_dir={user}", "experiment=x", *STEPS, f"results_dir={results}")
    assert out.returncode == 2, out.stderr
    line = one_error_line(out.stderr)
    assert "experiment='../../escape' is not a plain name" in line
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["user"]


def test_an_experiment_directory_linked_outside_results_dir_is_refused(forked_normbench, tmp_path):
    results, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    results.mkdir()
    elsewhere.mkdir()
    (results / "default").symlink_to(elsewhere)
    out = forked_normbench.train(tmp_path / "logs", *STEPS, f"results_dir={results}")
    assert out.returncode == 2, out.stderr
    line = one_error_line(out.stderr)
    assert f"resolves to {elsewhere}, outside {results}" in line
    assert list(elsewhere.iterdir()) == []


def test_a_sweep_job_whose_run_directory_links_outside_is_refused_and_writes_nothing_there(forked_normbench,
                                                                                        tmp_path):
    results, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    first = forked_normbench.train(tmp_path / "logs1", *STEPS, f"results_dir={results}")
    assert first.returncode == 0, first.stderr
    (run_dir,) = (results / "default").iterdir()
    elsewhere.mkdir()
    (elsewhere / "victim.txt").write_text("keep me\n")
    before = snapshot(elsewhere)
    for path in sorted(run_dir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    run_dir.rmdir()
    run_dir.symlink_to(elsewhere)
    out = forked_normbench.train(tmp_path / "logs2", "-m", *STEPS, "seed=0,1", f"results_dir={results}")
    assert out.returncode == 1, out.stderr  # the sweep goes on; its tally says one job was invalid
    assert f"{run_dir.name}: invalid: the run directory" in out.stderr + out.stdout
    assert snapshot(elsewhere) == before
