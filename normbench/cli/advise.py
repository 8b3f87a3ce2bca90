"""`normbench advise [overrides] [--budget 20m|2h|quick|standard] [--dry-run] [--out DIR]`: which norm for this
model, data set and batch size? Searches each norm's learning rate, confirms on fresh seeds, races to an answer
within the budget (normbench.launch.protocol), then prints the answer in words, the per-norm table and the full
report, and writes advice.json."""

import argparse
import sys
from pathlib import Path

from normbench.errors import ConfigError

DESCRIPTION = """Answer "which normalization should this network use?" for one model, data set and batch size, within
a budget. Three stages, each an ordinary `normbench train -m` sweep (finished runs are skipped, so rerunning the same
command continues where it stopped; parallel on the local cores unless a launcher is given): search each norm's
learning rate by successive halving, confirm each norm at its chosen rate on fresh seeds, and race: add seeds only
to the norms still in contention until one leads distinguishably, they are shown equivalent, or the budget is spent.
Chosen on validation data; test accuracy is shown, never decides. Overrides are `normbench train`'s (model=cnn
data=mnist1d batch_size=4 results_dir=DIR; norm=a,b narrows the norms) plus advise.lr_range=LOW:HIGH and
advise.equivalence=PP (default 1). A norm's own setting (norm.groups=4, norm.virtual_batch_size=8) goes to the norms
that have that key only; GroupNorm without norm.groups gets the largest group count <= 32 that divides every norm
site's channels with >= 2 channels per group. Every norm left out is listed with the reason before training.
See docs/advise.md."""


def parser() -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(prog="normbench advise", description=DESCRIPTION)
    arguments.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                           help="overrides as for normbench train, e.g. model=cnn batch_size=4")
    arguments.add_argument("--budget", default="quick",
                           help="wall-clock time (90s, 20m, 2h), planned from this machine's measured speed; or a "
                                "preset: quick = 400-step runs, up to 7 seeds per norm; standard = the config's own "
                                "steps, up to 11 seeds (default: quick)")
    arguments.add_argument("--dry-run", action="store_true", help="print the plan and train nothing")
    arguments.add_argument("--out", default=None, metavar="DIR",
                           help="report and advice.json go here (default: <sweep dir>/advice_<model>_<data>_bs<B>)")
    return arguments


def _error(error: Exception) -> int:
    print(f"normbench advise: error: {str(error).removeprefix('normbench advise: ')}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)  # overrides before, between or after the flags
    from normbench.config.placement import blocked_dir_problem
    from normbench.launch import protocol

    try:
        problem = args.out and blocked_dir_problem(Path(args.out), "choose another --out DIR")
        if problem:  # before any sweep: the report is written only after every run has trained
            raise ConfigError(f"--out {args.out}: {problem}")
        question = protocol.question(args.overrides, args.budget)
        advisor = protocol.Advisor(question)
        if question.budget.seconds is not None and advisor.state.speed is None and not args.dry_run:
            advisor.say(f"plan: first every norm for {protocol.budgets.MEASURE_STEPS} steps ({len(question.norms)} "
                        "runs) to measure this machine's speed; the stages are planned from it")
        plan = advisor.make_plan(dry_run=args.dry_run)
    except ConfigError as error:
        return _error(error)
    for note in question.notes:  # each norm left out and why, each setting chosen by a rule: said before training
        print(f"normbench advise: {note}", flush=True)
    print(format_plan(plan, question), flush=True)
    if args.dry_run:
        return 0
    try:
        advisor.run_search()
        outcome = advisor.run_confirm_and_race()
    except ConfigError as error:
        return _error(error)
    from normbench.launch.advice import advice_record, answer_lines, table_text

    record = advice_record(advisor, outcome)
    out = Path(args.out) if args.out else question.sweep_dir / default_report_name(advisor)
    report_path = write_report(advisor, out)
    record["report"] = str(report_path) if report_path else None
    from normbench.rundir.atomic import write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "advice.json", record)
    print("\n".join(["", *answer_lines(record), "", table_text(record), ""]))
    if report_path:
        print(f"full report: {report_path} (and report.html, recommendations.csv)")
    print(f"advice.json: {out / 'advice.json'}")
    return 1 if advisor.failures else 0


def format_plan(plan, question) -> str:
    """The plan: its stages with runs, steps and predicted time, before anything trains."""
    from normbench.decide.answer import format_lr
    from normbench.launch.tally import format_duration

    speed = plan.speed
    measured = "measured" if speed.measured else "a prior for the model, not measured here yet"
    lines = [f"normbench advise plan (budget {plan.budget.text}; {len(plan.norms)} norms: {', '.join(plan.norms)}; "
             f"batch size {question.batch_size})",
             f"  speed: {1 / speed.seconds_per_step:.1f} steps/s a run and {speed.seconds_per_run:.1f} s per run "
             f"({measured}), {speed.parallel} runs at once",
             f"  learning rates searched: {', '.join(format_lr(lr) for lr in plan.grid)}; full budget "
             f"{plan.full_steps} steps a run; equivalence ±{question.equivalence:g} pp"]
    for stage in plan.stages:
        predicted = format_duration(stage.seconds)
        lines.append(f"  {stage.name:<16} {stage.runs:>4} runs × {stage.steps:>6} steps   ~{predicted}")
    total = f"  total            {plan.runs:>4} runs               ~{format_duration(plan.seconds)} at most"
    if plan.budget.seconds is not None:
        total += f" of {format_duration(plan.budget.seconds)}"
    lines.append(total)
    # The race is bounded by its time and its seeds, not by a number of runs: fewer norms make cheaper rounds.
    lines.append(f"  (the race's runs count every norm in contention to the end; with fewer, more rounds fit its time, "
                 f"up to {plan.budget.max_seeds} seeds per norm)")
    return "\n".join(lines)


def default_report_name(advisor) -> str:
    model, data = "model", "data"
    for summary in advisor.runs.by_key.values():
        model, data = summary.get("model", model), summary.get("data", data)
        break
    return f"advice_{model}_{data}_bs{advisor.q.batch_size}"


def write_report(advisor, out: Path) -> Path | None:
    """The full report over the confirmation and race runs (each norm at its chosen lr, fresh seeds)."""
    from normbench.launch.protocol import CONFIRM_SEED0
    from normbench.report.pipeline import Options, ReportError, build_report

    runs = sorted({Path(summary["run_dir"]) for (_, _, steps, seed), summary in advisor.runs.by_key.items()
                   if steps == advisor.plan.full_steps and seed >= CONFIRM_SEED0})
    if not runs:
        return None
    try:
        report = build_report(runs, out, Options(formats=("png",)))
    except ReportError as error:
        print(error, file=sys.stderr)
        return None
    return report.out / "report.md"


if __name__ == "__main__":
    sys.exit(main())
