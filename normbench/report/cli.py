"""`normbench report [RESULTS_DIR ...] [--out DIR]`: arguments in, report out, a short summary on stdout."""

import argparse
import sys

from normbench.report.render import FIGURE_FORMATS, FORMATS
from normbench.rundir.contract import METRICS, SUMMARY

DESCRIPTION = f"""Turn run directories into a report: tables of mean ± 95% CI per norm, stability metrics,
figures, and verdicts on common claims about normalization. Run directories are found at any depth
(a directory holding {SUMMARY}, {METRICS} or TensorBoard event files)."""


def parser() -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(prog="normbench report", description=DESCRIPTION)
    arguments.add_argument("dirs", nargs="*", default=["results"], metavar="RESULTS_DIR",
                           help="directories to search for runs (default: results)")
    arguments.add_argument("--out", default=None, metavar="DIR",
                           help="where the report goes (default: <first RESULTS_DIR>/report)")
    arguments.add_argument("--smooth", type=_weight, default=0.9, metavar="WEIGHT",
                           help="EMA smoothing of the drawn per-step train-loss curves, TensorBoard's slider in "
                                "[0, 1): 0 = off, 0.9 = about 10 steps (pandas ewm(alpha=1-WEIGHT, adjust=True)); "
                                "display only, never applied to a reported number (default: 0.9)")
    arguments.add_argument("--spike-k", type=_positive_float, default=2.0, metavar="K",
                           help="a step is a loss spike when its loss exceeds K × the median of the previous "
                                "window (default: 2.0)")
    arguments.add_argument("--spike-window", type=_positive_int, default=50, metavar="W",
                           help="steps in the spike detector's rolling median (default: 50)")
    arguments.add_argument("--equivalence", type=_positive_float, default=None, metavar="PP",
                           help="margin of equivalence on accuracy, in percentage points: tied norms whose 90%% "
                                "interval of the difference lies within ±PP are said to be equivalent (TOST; "
                                "default: 1)")
    arguments.add_argument("--window-tolerance", type=_positive_float, default=None, metavar="PP",
                           help="a learning rate is in a norm's trainable window when no seed diverged there and its "
                                "mean validation accuracy is within PP percentage points of the norm's best "
                                "(default: 2)")
    arguments.add_argument("--formats", type=_formats, default=FORMATS, metavar="FMT[,FMT]",
                           help=f"figure formats, from {','.join(FIGURE_FORMATS)} (default: {','.join(FORMATS)})")
    arguments.add_argument("--no-html", action="store_true", help="write report.md only, no report.html")
    arguments.add_argument("--latex", action="store_true",
                           help="also write tables.tex: every table of the report as booktabs LaTeX (default: off)")
    return arguments


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from normbench.report.pipeline import Options, ReportError, build_report

    options = Options(spike_k=args.spike_k, spike_window=args.spike_window, smooth=args.smooth,
                      formats=args.formats, html=not args.no_html, latex=args.latex)
    if args.equivalence is not None:
        options.equivalence = args.equivalence / 100
    if args.window_tolerance is not None:
        options.window_tolerance = args.window_tolerance / 100
    try:
        report = build_report(args.dirs, args.out, options)
    except ReportError as error:
        print(error, file=sys.stderr)
        return 2
    except OSError as error:  # e.g. an output directory that cannot be written
        print(f"normbench report: {error}", file=sys.stderr)
        return 1
    print(summary_text(report))
    return 0


def summary_text(report) -> str:
    """Run counts, the claims table and where the report was written."""
    from normbench.report.run_metrics import format_effect

    counts = report.runs["status"].value_counts()
    lines = [f"normbench report: {len(report.runs)} runs (" +
             ", ".join(f"{count} {status}" for status, count in counts.items()) + ")"]
    if report.claims:
        lines.append("claims (effect = a − b, 95% CI):")
        width = max(len(result.model) for result in report.claims)
        shown = None
        for result in report.claims:
            if result.claim.id != shown:  # the claim's words once, then a line per model
                shown = result.claim.id
                lines.append(f"  {result.claim.id}. {result.claim.text}")
            effect = format_effect(result.estimate, result.low, result.high, result.claim.metric)
            lines.append(f"      {result.model:<{width}}  {result.verdict:<13} "
                         f"{result.claim.a} vs {result.claim.b}: {effect}")
    if report.recommendations:
        lines.append("recommendation (report.md: the rule, each setting's norms):")
        lines += [f"  {rec.label}: {rec.statement}" for rec in report.recommendations]
    names = ["report.md"] + (["report.html"] if (report.out / "report.html") in report.files else [])
    lines.append(f"wrote {', '.join(names)}, runs.csv and {len(report.figures)} figure(s) to {report.out}")
    if report.skipped:
        lines.append("not drawn: " + "; ".join(f"{skip.title} ({skip.reason})" for skip in report.skipped))
    return "\n".join(lines)


def _weight(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _formats(text: str) -> tuple:
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [fmt for fmt in formats if fmt not in FIGURE_FORMATS]
    if not formats or unknown:
        raise argparse.ArgumentTypeError(f"choose from {','.join(FIGURE_FORMATS)} (got {text!r})")
    return formats


if __name__ == "__main__":
    sys.exit(main())
