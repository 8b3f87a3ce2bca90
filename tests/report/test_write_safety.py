"""What `normbench report` writes stays where it should: inside its output directory, never through a symbolic
link planted there, and its CSVs safe to open in a spreadsheet."""

import pytest

from normbench.report.cli import main
from tests.faults.conftest import snapshot


def _two_norms(make_run, root):
    for seed in range(2):
        make_run(root, norm="batch", seed=seed, loss=0.5 + seed / 10)
        make_run(root, norm="layer", seed=seed, loss=0.7 + seed / 10)


def test_a_figures_folder_linked_outside_the_report_is_refused_and_nothing_written_there(make_run, tmp_path,
                                                                                         capsys):
    root, out, elsewhere = tmp_path / "results", tmp_path / "out", tmp_path / "elsewhere"
    _two_norms(make_run, root)
    elsewhere.mkdir()
    (elsewhere / "victim.txt").write_text("keep me\n")
    out.mkdir()
    (out / "figures").symlink_to(elsewhere)
    before = snapshot(elsewhere)
    assert main([str(root), "--out", str(out), "--formats", "png"]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and f"resolves to {elsewhere}" in message and "outside" in message
    assert snapshot(elsewhere) == before


@pytest.mark.parametrize("name", ["runs.csv", "claims.csv", "recommendations.csv", "report.md", "report.html"])
def test_a_report_file_linked_outside_is_refused_and_its_target_unchanged(make_run, tmp_path, capsys, name):
    root, out, victim = tmp_path / "results", tmp_path / "out", tmp_path / "victim.txt"
    _two_norms(make_run, root)
    victim.write_text("keep me\n")
    out.mkdir()
    (out / name).symlink_to(victim)
    assert main([str(root), "--out", str(out), "--formats", "png"]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and f"{out / name} resolves to {victim}" in message
    assert victim.read_text() == "keep me\n"


def test_a_report_file_linked_to_another_file_of_the_report_replaces_the_link_not_the_file(make_run, tmp_path):
    root, out = tmp_path / "results", tmp_path / "out"
    _two_norms(make_run, root)
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    (out / "runs.csv").symlink_to(out / "notes.txt")
    assert main([str(root), "--out", str(out), "--formats", "png"]) == 0
    assert (out / "notes.txt").read_text() == "mine\n"
    assert not (out / "runs.csv").is_symlink() and (out / "runs.csv").read_text().startswith("run_id,")
