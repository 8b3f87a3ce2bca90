"""A symbolic link planted in a run directory, where a run writes one of its files, is never written through (nor
read as the run's record): the run is refused in one line, exit 2, and the file the link points to is unchanged."""

import pytest

from normbench.rundir.contract import (
    CHECKPOINT,
    CHECKPOINT_SIDECAR,
    HYDRA_CONFIG,
    HYDRA_DIR,
    IDENTITY,
    LOCK,
    METRICS,
    NORMS_FILE,
    SUMMARY,
)
from tests.faults.conftest import TINY, one_error_line, snapshot

STEPS = ["model=mlp", "trainer.max_steps=20", "trainer.checkpoint_interval=5", *TINY]
VICTIM_TEXT = "a file outside the run directory\n"


@pytest.fixture(scope="module")
def run_name(forked_normbench, tmp_path_factory) -> str:
    """The name of the directory STEPS's run goes to (from one real run)."""
    results = tmp_path_factory.mktemp("named") / "results"
    out = forked_normbench.train(results.parent / "logs", *STEPS, f"results_dir={results}")
    assert out.returncode == 0, out.stderr
    (run_dir,) = (results / "default").iterdir()
    return run_dir.name


@pytest.mark.parametrize("name", [LOCK, METRICS, SUMMARY, CHECKPOINT, CHECKPOINT_SIDECAR, IDENTITY, NORMS_FILE,
                                  HYDRA_CONFIG])
def test_a_link_planted_for_a_file_the_run_writes_is_refused_and_its_target_unchanged(forked_normbench, tmp_path,
                                                                                     run_name, name):
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text(VICTIM_TEXT)
    run_dir = tmp_path / "results" / "default" / run_name
    (run_dir / name).parent.mkdir(parents=True)
    (run_dir / name).symlink_to(victim)
    out = forked_normbench.train(tmp_path / "logs", *STEPS, f"results_dir={tmp_path / 'results'}")
    assert out.returncode == 2, out.stderr
    line = one_error_line(out.stderr)
    assert f"{run_dir / name} is a symbolic link (to {victim}); normbench never writes through one" in line
    assert victim.read_text() == VICTIM_TEXT and (run_dir / name).is_symlink()


def test_a_hydra_folder_linked_elsewhere_is_refused_and_nothing_written_there(forked_normbench, tmp_path, run_name):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.yaml").write_text(VICTIM_TEXT)
    before = snapshot(elsewhere)
    run_dir = tmp_path / "results" / "default" / run_name
    run_dir.mkdir(parents=True)
    (run_dir / HYDRA_DIR).symlink_to(elsewhere)
    out = forked_normbench.train(tmp_path / "logs", *STEPS, f"results_dir={tmp_path / 'results'}")
    assert out.returncode == 2, out.stderr
    assert f"{run_dir / HYDRA_DIR} is a symbolic link" in one_error_line(out.stderr)
    assert snapshot(elsewhere) == before
