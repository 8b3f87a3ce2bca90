"""The whole report, end to end: load -> per-run metrics -> groups -> claims -> figures -> documents.

Every output file is written atomically (temp file in the same directory, then os.replace), so a reader
never sees half a report file.
"""

import io
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from normbench.decide.equivalence import EQUIVALENCE_MARGIN
from normbench.decide.window import WINDOW_TOLERANCE
from normbench.report import render, sections
from normbench.report.claims import evaluate_claims
from normbench.report.discover import REPORT_MARKER
from normbench.report.groups import group_table, usable_runs
from normbench.report.load import load_runs, steps_table
from normbench.report.mixes import mix_comparisons
from normbench.report.plots import Drawn, PlotData, Skip, all_figures
from normbench.report.recommend import choices_frame, recommendations, recommendations_frame
from normbench.report.render import FIGURE_FORMATS, FORMATS
from normbench.report.run_metrics import add_run_metrics
from normbench.report.style import norm_colours
from normbench.rundir.atomic import write_bytes_atomic
from normbench.rundir.contract import METRICS, SUMMARY

PNG_DPI = 100


class ReportError(Exception):
    """A problem with the command's input (missing directory, no runs): a one-line message, exit code 2."""


@dataclass
class Options:
    spike_k: float = 2.0
    spike_window: int = 50
    smooth: float = 0.9  # display-only EMA weight for train-loss curves (TensorBoard's slider)
    formats: tuple = FORMATS
    html: bool = True
    latex: bool = False  # also tables.tex: every table of the report in booktabs LaTeX
    equivalence: float = EQUIVALENCE_MARGIN  # TOST margin on accuracy (a fraction: 0.01 = 1 pp)
    window_tolerance: float = WINDOW_TOLERANCE  # trainable LR window: within this of the norm's best (fraction)


@dataclass
class Report:
    out: Path
    runs: pd.DataFrame  # every run found, with status, reason and metric columns
    groups: pd.DataFrame
    claims: list
    recommendations: list  # recommend.Recommendation per setting
    figures: list = field(default_factory=list)  # render.Image of each figure written
    skipped: list = field(default_factory=list)  # plots.Skip of each figure not drawn
    files: list = field(default_factory=list)  # every file written
    timings: dict = field(default_factory=dict)  # seconds per stage


def build_report(roots=None, out=None, options: Options | None = None) -> Report:
    options = options or Options()
    roots = _existing_dirs(roots or ["results"])
    out = Path(out) if out is not None else roots[0] / "report"
    clock = _Stopwatch()
    with clock("load runs"):
        loaded = load_runs(roots, exclude=[out])
    if loaded.runs.empty:
        raise ReportError(f"normbench report: no runs found under {', '.join(str(root) for root in roots)} "
                          f"(expected run directories with {SUMMARY} or {METRICS})")
    with clock("metrics, groups, claims"):
        runs = add_run_metrics(loaded.runs, loaded.curves, options.spike_k, options.spike_window)
        usable = usable_runs(runs)
        groups = group_table(usable) if len(usable) else pd.DataFrame()
        claims = evaluate_claims(usable) if len(usable) else []
        advice = (recommendations(groups, usable, margin=options.equivalence, tolerance=options.window_tolerance)
                  if len(usable) else [])

    out.mkdir(parents=True, exist_ok=True)
    earlier_report = (out / REPORT_MARKER).is_file()  # only then is figures/ ours to tidy
    report = Report(out, runs, groups, claims, advice, timings=clock.laps)
    with clock("tables"):
        _write(report, REPORT_MARKER, b"normbench report output: never read as runs\n")
        _write(report, "runs.csv", runs.to_csv(index=False).encode())
        _write_steps(report, steps_table(loaded.curves))
        if len(groups):
            _write(report, "groups.csv", groups.to_csv(index=False).encode())
        _write(report, "claims.csv", _claims_frame(claims).to_csv(index=False).encode())
        _write(report, "recommendations.csv", recommendations_frame(advice).to_csv(index=False).encode())
        _write(report, "recommendation_choices.csv", choices_frame(advice).to_csv(index=False).encode())
    with clock("figures"):
        _figures(report, usable, groups, loaded.curves, options, advice)
        if earlier_report:
            _remove_stale_figures(report)
    with clock("report.md, report.html"):
        generated_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        blocks = [*sections.title_section(), *sections.recommendation_section(report.recommendations),
                  *sections.header_section(roots, options, runs, generated_at),
                  *sections.lr_stability_section(report.recommendations, options.window_tolerance),
                  *sections.claims_section(claims), *sections.mixes_section(mix_comparisons(usable)),
                  *sections.settings_section(groups, usable),
                  *sections.figures_section(report.figures, report.skipped), *sections.excluded_section(runs),
                  *sections.definitions_section(options)]
        _write(report, "report.md", render.to_markdown(blocks).encode())
        if options.html:
            _write(report, "report.html", render.to_html(blocks, "normbench report").encode())
        if options.latex:
            _write(report, "tables.tex", render.to_latex(blocks).encode())
    return report


def _existing_dirs(roots) -> list[Path]:
    roots = [Path(root) for root in roots]
    for root in roots:
        if not root.exists():
            raise ReportError(f"normbench report: no such directory: {root}")
        if not root.is_dir():
            raise ReportError(f"normbench report: not a directory: {root}")
    return roots


def _figures(report: Report, usable: pd.DataFrame, groups: pd.DataFrame, curves: dict, options: Options,
             advice: list) -> None:
    if not len(usable):
        report.skipped.append(Skip("All figures", "no usable runs"))
        return
    for item in all_figures(PlotData(usable, groups, curves, norm_colours(usable["norm"]), options.smooth, advice)):
        if isinstance(item, Drawn):
            report.figures.append(_save_figure(report, item, options.formats))
        else:
            report.skipped.append(item)


class _Stopwatch:
    """Seconds spent per stage (for the benchmark and anyone curious): `with clock("stage"): ...`."""

    def __init__(self):
        self.laps: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.laps[name] = time.perf_counter() - start


def _write(report: Report, name: str, data: bytes) -> Path:
    path = report.out / name
    write_bytes_atomic(path, data)
    report.files.append(path)
    return path


def _remove_stale_figures(report: Report) -> None:
    """Figures of an earlier report in this directory that this one did not draw (its data changed)."""
    written = set(report.files)
    for path in (report.out / "figures").glob("*"):
        if path.suffix.lstrip(".") in FIGURE_FORMATS and path not in written:
            path.unlink()


def _write_steps(report: Report, steps: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    try:
        steps.to_parquet(buffer, index=False)
        _write(report, "steps.parquet", buffer.getvalue())
    except ImportError:  # no parquet engine (pyarrow) installed
        _write(report, "steps.csv.gz", _gzip_csv(steps))


def _gzip_csv(frame: pd.DataFrame) -> bytes:
    import gzip

    return gzip.compress(frame.to_csv(index=False).encode(), mtime=0)


# No creation date in the file: the same figure gives the same bytes on every run.
_REPRODUCIBLE = {"svg": {"metadata": {"Date": None}}, "pdf": {"metadata": {"CreationDate": None}}}


def _save_figure(report: Report, drawn: Drawn, formats) -> render.Image:
    """Write the figure in each format under figures/, and keep its bytes for inlining in report.html."""
    import matplotlib

    encoded = {}
    with matplotlib.rc_context({"svg.hashsalt": "normbench", "svg.fonttype": "none"}):
        for fmt in formats:
            buffer = io.BytesIO()
            # PNG: zlib level 1 compresses within a few % of the default at a fraction of its time.
            options = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else _REPRODUCIBLE[fmt]
            drawn.figure.savefig(buffer, format=fmt, dpi=PNG_DPI, **options)
            encoded[fmt] = buffer.getvalue()
            _write(report, f"figures/{drawn.stem}.{fmt}", encoded[fmt])
    main = "png" if "png" in encoded else next(iter(encoded))
    return render.Image(drawn.title, drawn.caption, f"figures/{drawn.stem}.{main}", png=encoded.get("png"),
                        svg=encoded["svg"].decode() if "svg" in encoded and "png" not in encoded else None)


def _claims_frame(claims) -> pd.DataFrame:
    return pd.DataFrame([{
        "id": result.claim.id, "claim": result.claim.text, "model": result.model, "metric": result.claim.metric,
        "a": result.claim.a, "b": result.claim.b, "claimed": f"a {result.claim.direction} than b",
        "effect": result.estimate, "ci_low": result.low, "ci_high": result.high, "verdict": result.verdict,
        "comparisons": len(result.comparisons), "comparisons_used": result.used, "note": result.note,
    } for result in claims], columns=["id", "claim", "model", "metric", "a", "b", "claimed", "effect", "ci_low",
                                      "ci_high", "verdict", "comparisons", "comparisons_used", "note"])
