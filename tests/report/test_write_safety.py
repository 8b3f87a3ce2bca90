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


# --- CSV injection -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, written", [("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
                                            ("\tx", "'\tx"), ("\rx", "'\rx"), ("batch", "batch"), ("-0.5", "-0.5"),
                                            (-0.5, -0.5), (None, None)])
def test_a_string_cell_a_spreadsheet_would_run_gets_a_quote_and_numbers_stay_numbers(value, written):
    from normbench.report.render import spreadsheet_cell

    assert spreadsheet_cell(value) == written


INJECTED = {"experiment": "+cmd|calc", "model": "@SUM(1+1)", "data": "-2+3"}
NORMS = ("=HYPERLINK(\"http://x\")", "\tbatch")


def test_every_exported_csv_has_its_string_cells_escaped_and_its_numbers_unquoted(make_run, tmp_path, capsys):
    import csv
    import gzip
    import io

    root, out = tmp_path / "results", tmp_path / "out"
    for seed in range(2):  # batch against layer for the claims' numbers, beside two norms named as formulas
        for norm, loss in (("batch", 0.5), ("layer", 0.7), *((name, 0.9) for name in NORMS)):
            make_run(root, norm=norm, seed=seed, loss=loss + seed / 10, **INJECTED)
    assert main([str(root), "--out", str(out), "--formats", "png"]) == 0, capsys.readouterr().err
    exported = {path.name: path.read_text() for path in out.glob("*.csv")}
    if (out / "steps.csv.gz").exists():
        exported["steps.csv.gz"] = gzip.decompress((out / "steps.csv.gz").read_bytes()).decode()
    assert {"runs.csv", "groups.csv", "claims.csv", "recommendations.csv"} <= set(exported)
    cells = {name: [cell for row in csv.reader(io.StringIO(text)) for cell in row] for name, text in exported.items()}
    for found in cells.values():
        for cell in found:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)  # only a number may start so: any other cell a spreadsheet would run
    for name in ("runs.csv", "groups.csv", "recommendation_choices.csv"):  # every norm has a row there
        assert {f"'{value}" for value in (INJECTED["model"], NORMS[0])} <= set(cells[name]), name
    assert f"'{INJECTED['model']}" in cells["recommendations.csv"]
    assert {f"'{value}" for value in (*INJECTED.values(), *NORMS)} <= set(cells["runs.csv"])
    assert f"'{INJECTED['model']}" in cells["claims.csv"]
    assert any(float(cell) < 0 for cell in cells["claims.csv"] if cell[:1] == "-")  # a negative number, unquoted
