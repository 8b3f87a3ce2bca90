"""`normbench advise [overrides] [--budget quick|standard] [--out DIR]`: which norm for this model, data set
and batch size(s)? Runs the sweep (normbench.launch.advise), then prints the recommendation and writes the
full report."""

import argparse
import sys
from pathlib import Path

from normbench.errors import ConfigError

DESCRIPTION = """Answer "which normalization should this network use?" for one model, data set and batch size (or a
list: batch_size=4,32). Trains every norm that applies to the model with 3 seeds at a named step budget, by the same
sweep as `normbench train -m` (finished runs are skipped, so rerunning resumes; parallel on the local cores unless a
launcher is given), then prints the recommendation and writes the full report (report.md, report.html,
recommendations.csv). Overrides are `normbench train`'s: model=cnn data=mnist1d batch_size=4 optim.lr=0.01
results_dir=DIR; norm=a,b narrows the norms, seed=... changes the seeds. A norm's own setting (norm.groups=4,
norm.virtual_batch_size=8) goes to the norms that have that key only. GroupNorm without norm.groups gets the
largest group count <= 32 that divides every norm site's channels with >= 2 channels per group. Every norm left out
is listed with the reason before training."""


def parser() -> argparse.ArgumentParser:
    from normbench.launch.advise import budgets

    arguments = argparse.ArgumentParser(prog="normbench advise", description=DESCRIPTION)
    arguments.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                           help="overrides as for normbench train, e.g. model=cnn batch_size=4,32")
    arguments.add_argument("--budget", choices=budgets(), default="quick",
                           help="step budget (configs/advise/): quick = a few hundred steps, a first answer in "
                                "minutes; standard = the study's own budget (default: quick)")
    arguments.add_argument("--out", default=None, metavar="DIR",
                           help="where the report goes (default: <sweep dir>/advice_<model>_<data>_bs<sizes>)")
    return arguments


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from normbench.launch import advise
    from normbench.launch.output_dirs import blocked_dir_problem
    from normbench.report.pipeline import Options, ReportError, build_report

    try:
        problem = args.out and blocked_dir_problem(Path(args.out), "choose another --out DIR")
        if problem:  # before the sweep: the report is written only after every run has trained
            raise ConfigError(f"--out {args.out}: {problem}")
        plan = advise.plan(args.overrides, args.budget)
    except ConfigError as error:
        print(f"normbench advise: error: {str(error).removeprefix('normbench advise: ')}", file=sys.stderr)
        return 2
    for note in plan.notes:  # each norm left out and why, each setting chosen by a rule: said before training
        print(f"normbench advise: {note}", flush=True)
    runs, status = [], 0
    for arguments in plan.arguments():
        print("normbench advise: normbench train " + " ".join(arguments), flush=True)
        code, tally = advise.run_sweep(arguments)
        status = status or code
        if tally is None:  # refused before any job ran: its one-line reason is already printed
            return code or 2
        runs += advise.run_dirs(tally)
        sweep_dir = Path(tally.sweep_dir)
    out = Path(args.out) if args.out else sweep_dir / default_report_name(plan, runs)
    try:
        report = build_report(runs, out, Options(formats=("png",)))
    except ReportError as error:
        print(error, file=sys.stderr)
        return 2
    print(advice_text(report, plan, args.budget))
    return status


def default_report_name(plan, runs: list[Path]) -> str:
    """e.g. `advice_cnn_mnist1d_bs4-32`, from the runs' names (model and data come first in a run's name)."""
    sizes = "-".join(str(size) for size in dict.fromkeys(size for sweep in plan.sweeps for size in sweep.batch_sizes))
    model, data = _model_and_data(runs)
    return f"advice_{model}_{data}_bs{sizes}"


def _model_and_data(runs: list[Path]) -> tuple[str, str]:
    import json

    for run in runs:
        try:
            summary = json.loads((run / "summary.json").read_text())
            return summary["model"], summary["data"]
        except (OSError, ValueError, KeyError, RecursionError):
            continue
    return "model", "data"


def advice_text(report, plan, budget: str) -> str:
    """The recommendation as terminal tables: one line per setting, then each setting's norms."""
    from normbench.report import render, sections

    seeds = len(plan.seeds.split(","))
    lines = [f"normbench advise: {len(report.runs)} runs (budget {budget}, {seeds} seeds per norm)", ""]
    for rec in report.recommendations:
        lines.append(render.to_text(sections.candidates_blocks(rec)))
    lines.append(sections.RULE_TEXT)
    lines.append(f"full report: {report.out / 'report.md'} (and report.html, recommendations.csv)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
