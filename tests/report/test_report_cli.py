"""`normbench report` end to end: exit codes, output files, figures and their notes, exclusions."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from normbench.report.cli import main, parser
from normbench.report.pipeline import FORMATS, PNG_DPI

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
MIN_COLOURED_PIXELS = 50  # a few points in a norm's colour: the smallest figure here (4 runs) has about 120


# --- what a drawn figure file must hold, per format ----------------------------------------------------

def _coloured(hex_colour: str) -> bool:
    """Not black, white or grey: the norms' colours and the heatmap's, never the axes, ticks or text."""
    channels = [int(hex_colour[i:i + 2], 16) for i in (0, 2, 4)]
    return max(channels) - min(channels) > 64


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels of a PNG decoded in full (a truncated or corrupt file raises) that draws something
    in colour. Which pixels are data is only known from the SVG: its check is the one that looks inside panels."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name}: not a PNG"
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    coloured = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 64).sum())
    assert coloured >= MIN_COLOURED_PIXELS, f"{path.name}: {coloured} coloured pixels, a blank or data-less figure"
    return pixels.shape[1], pixels.shape[0]


def _svg_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels at the PNG's resolution, of an SVG that parses and draws data inside its axes."""
    root = ElementTree.parse(path).getroot()  # a truncated or empty file raises
    assert root.tag == f"{SVG}svg", f"{path.name}: not an SVG"
    panels = [group for group in root.iter(f"{SVG}g") if (group.get("id") or "").startswith("axes_")]
    marks = [element for panel in panels for element in panel.iter()
             if element.tag == f"{SVG}image"
             or any(_coloured(colour) for colour in re.findall(r"#([0-9a-fA-F]{6})", element.get("style") or ""))]
    assert marks, f"{path.name}: no panel draws anything in colour"
    return tuple(round(float(root.get(side).removesuffix("pt")) / 72 * PNG_DPI) for side in ("width", "height"))


FIGURE_CHECKS = {"png": _png_size, "svg": _svg_size}  # every format the report can write


def assert_figures_drawn(figures: Path, stems, formats=FORMATS) -> None:
    """figures/ holds exactly `stems` in `formats`, each a complete file with data drawn in it, and the formats
    of one figure are the same picture size."""
    assert set(FIGURE_CHECKS) == set(FORMATS), "a figure format without a content check"
    assert sorted(path.name for path in figures.iterdir()) == sorted(f"{stem}.{fmt}" for stem in stems
                                                                       for fmt in formats)
    for stem in stems:
        sizes = {fmt: FIGURE_CHECKS[fmt](figures / f"{stem}.{fmt}") for fmt in formats}
        assert len(set(sizes.values())) == 1, f"{stem}: {sizes}"


def test_every_figure_format_has_a_content_check():
    assert set(FIGURE_CHECKS) == set(FORMATS) == set(parser().parse_args([]).formats)


@pytest.fixture(scope="module")
def realistic_report(realistic_results, tmp_path_factory):
    """One report over the realistic sweep, shared by the tests that only read its outputs."""
    out = tmp_path_factory.mktemp("report")
    code = main([str(realistic_results), "--out", str(out), "--smooth", "0.6"])
    assert code == 0
    return out


def test_no_runs_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    assert main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err == (f"normbench report: no runs found under {tmp_path / 'empty'} "
                   "(expected run directories with summary.json or metrics.csv)\n")


def test_missing_directory_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such directory" in err and "nope" in err


def test_outputs_exist_and_report_references_existing_figures(realistic_report):
    out = realistic_report
    for name in ("report.md", "report.html", "runs.csv", "steps.parquet", "groups.csv", "claims.csv"):
        assert (out / name).is_file(), name
    markdown = (out / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(images) >= 6
    assert {Path(image).parent for image in images} == {Path("figures")}
    assert_figures_drawn(out / "figures", [Path(image).stem for image in images])  # every format, by default
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temp files


def test_html_is_self_contained(realistic_report):
    html = (realistic_report / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)  # nothing fetched from elsewhere
    assert "<table>" in html and "supported" in html


def test_runs_table_lists_every_run_with_its_status(realistic_report, realistic_results):
    runs = pd.read_csv(realistic_report / "runs.csv")
    assert len(runs) == 2 * 3 * 2 * 2 * 3 + 3
    by_id = runs.set_index("run_id")
    assert by_id.loc["sweep/failed_run", "status"] == "failed"
    assert by_id.loc["sweep/killed_run", "status"] == "incomplete"
    assert by_id.loc["sweep/corrupt_summary", "status"] == "unreadable"
    steps = pd.read_parquet(realistic_report / "steps.parquet")
    assert set(steps["run_id"].unique()) == set(runs.loc[runs["status"].isin(["completed", "diverged"]), "run_id"])


def test_excluded_runs_are_listed_with_reasons(realistic_report):
    markdown = (realistic_report / "report.md").read_text()
    excluded = markdown.split("## Excluded runs", 1)[1]
    assert "sweep/failed_run | failed | failed: RuntimeError: CUDA out of memory" in excluded
    assert "sweep/killed_run | incomplete | no summary.json" in excluded
    assert "sweep/corrupt_summary | unreadable | summary.json: invalid JSON" in excluded


def test_report_states_claims_per_model(realistic_report):
    claims = pd.read_csv(realistic_report / "claims.csv")
    assert set(claims["model"]) == {"cnn", "mlp"}
    assert set(claims["verdict"]) <= {"supported", "contradicted", "inconclusive", "not covered"}
    both = claims[claims["id"] == "4b"]
    assert (both["verdict"] == "not covered").all()  # the sweep has no GroupNorm runs


def test_figures_skipped_with_a_note_when_their_data_is_absent(tmp_path, make_run, capsys):
    root = tmp_path / "results"
    for seed in range(2):  # one model, one batch size, one lr, no probes
        make_run(root, norm="batch", seed=seed, loss=0.5 + seed / 10)
        make_run(root, norm="layer", seed=seed, loss=0.7 + seed / 10)
    assert main([str(root), "--formats", "png"]) == 0
    out = root / "report"
    markdown = (out / "report.md").read_text()
    notes = markdown.split("### Figures not drawn", 1)[1]
    for title in ("against batch size", "against learning rate", "probes", "heatmap"):
        assert title in notes
    assert_figures_drawn(out / "figures", ["loss_curves_mlp", "stability"], formats=["png"])  # --formats png
    assert f"to {out}" in capsys.readouterr().out


def test_report_output_inside_results_is_never_read_as_runs(tmp_path, make_run, capsys):
    root = tmp_path / "results"
    make_run(root, norm="batch")
    assert main([str(root)]) == 0
    first = pd.read_csv(root / "report" / "runs.csv")
    assert main([str(root)]) == 0  # the second report walks past the first one's output
    second = pd.read_csv(root / "report" / "runs.csv")
    assert len(first) == len(second) == 1


def test_steps_fall_back_to_gzipped_csv_without_parquet(tmp_path, make_run, monkeypatch):
    def no_parquet(*args, **kwargs):
        raise ImportError("no parquet engine")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_parquet)
    make_run(norm="batch")
    assert main([str(tmp_path / "results"), "--no-html"]) == 0
    out = tmp_path / "results" / "report"
    assert not (out / "steps.parquet").exists() and not (out / "report.html").exists()
    steps = pd.read_csv(out / "steps.csv.gz")
    assert len(steps[(steps["split"] == "train") & (steps["metric"] == "loss")]) == 200


def test_stdout_summary_has_the_claims_table(tmp_path, make_run, capsys):
    root = tmp_path / "results"
    for seed in range(2):
        make_run(root, norm="batch", seed=seed, loss=0.5 + seed / 100)
        make_run(root, norm="layer", seed=seed, loss=1.0 + seed / 100)
    assert main([str(root), "--formats", "svg", "--spike-k", "3", "--spike-window", "20"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  1\. BN reaches a lower train loss than LN early", out, re.MULTILINE)
    assert re.search(r"^ +mlp +supported +batch vs layer: ", out, re.MULTILINE)
    assert "4 runs (4 completed)" in out
    assert "k = 3 × the median of the previous 20 steps" in (root / "report" / "report.md").read_text()


def test_scripts_report_wrapper(tmp_path, make_run):
    make_run(norm="batch")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "report.py"), str(tmp_path / "nothing")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no such directory" in result.stderr


def test_runs_without_curves_skip_the_curve_figures(tmp_path, make_run):
    root = tmp_path / "results"
    for seed in range(2):
        for norm in ("batch", "layer"):
            (make_run(root, norm=norm, seed=seed) / "metrics.csv").unlink()  # summary.json only
    assert main([str(root), "--no-html"]) == 0
    markdown = (root / "report" / "report.md").read_text()
    notes = markdown.split("### Figures not drawn", 1)[1]
    assert "Train and test loss curves: skipped, no usable run has loss curves" in notes
    assert "Stability metrics by norm: skipped" in notes
    figures = root / "report" / "figures"
    assert not figures.exists() or not list(figures.iterdir())  # nothing drawn empty, in any format
    assert "![" not in markdown
    assert "no metrics.csv or event files: curve metrics are missing" in markdown
    assert "| 1 | batch |" in markdown or "| 1 | layer |" in markdown  # the finals still make a table


def test_only_unusable_runs_still_give_a_report(tmp_path, make_run, capsys):
    root = tmp_path / "results"
    make_run(root, norm="batch", status="failed", error="RuntimeError: boom")
    make_run(root, norm="layer", summary=False)
    assert main([str(root)]) == 0
    markdown = (root / "report" / "report.md").read_text()
    assert "No usable runs: no claim could be evaluated." in markdown
    assert "All figures: skipped, no usable runs." in markdown
    assert "failed: RuntimeError: boom" in markdown and "| incomplete |" in markdown


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_spike_k_must_be_a_finite_number_above_zero(capsys, value):
    with pytest.raises(SystemExit) as exited:
        main(["--spike-k", value, "."])
    assert exited.value.code == 2
    assert f"argument --spike-k: must be a finite number > 0, got {value}" in capsys.readouterr().err
