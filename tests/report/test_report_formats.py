"""`normbench report --formats pdf --latex`: PDF figures and the report's tables as booktabs LaTeX."""

from normbench.report.cli import main as report_main
from normbench.report.render import Heading, Table, to_latex


def test_pdf_figures_and_latex_tables(tmp_path, make_run):
    root = tmp_path / "results"
    for seed, (good, poor) in enumerate([(0.90, 0.50), (0.91, 0.52), (0.92, 0.51)]):
        make_run(root, norm="layer", seed=seed, test_acc=good)
        make_run(root, norm="batch", seed=seed, test_acc=poor)
    out = tmp_path / "report"
    assert report_main([str(root), "--out", str(out), "--formats", "pdf", "--latex", "--no-html"]) == 0
    pdfs = sorted((out / "figures").glob("*.pdf"))
    assert pdfs and all(path.read_bytes().startswith(b"%PDF") for path in pdfs)
    assert not list((out / "figures").glob("*.png"))
    tex = (out / "tables.tex").read_text()
    assert tex.count(r"\begin{table}") == tex.count(r"\toprule") == tex.count(r"\bottomrule") >= 3
    assert r"\caption{Recommendation}" in tex
    # The recommendation row: layer's lead of 40 pp excludes 0, so it is named; ± and % are LaTeX.
    assert "use layer: its lead over batch excludes 0" in tex
    assert r"91.0 $\pm$ " in tex and r"(\%)" in tex


def test_latex_escapes_cells_and_marks_bold_cells():
    tex = to_latex([Heading("Results · mlp_x"), Table(["norm", "acc (%)"], [["batch_renorm", "95.0 [90.0, 100.0]†"],
                                                                          ["layer", "80.0"]], {(0, 1)})])
    assert r"\caption{Results $\cdot$ mlp\_x}" in tex
    assert r"batch\_renorm & \bfseries 95.0 [90.0, 100.0]\textsuperscript{\dag} \\" in tex
    assert "layer & 80.0 \\\\" in tex
