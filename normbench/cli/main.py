"""`normbench`: one entry point with subcommands. `train` hands its arguments to the Hydra app untouched."""

import os
import sys

USAGE = """usage: normbench <command> [arguments]

Which normalization should my network use, and how stable will training be?

commands:
  advise   which norm for this model, data set and batch size? searches each norm's lr, confirms on fresh
           seeds, races to an answer within --budget; e.g. normbench advise model=cnn batch_size=4 --budget 20m
  train    run one experiment or a sweep (a Hydra app: overrides, -m/--multirun, --cfg job, --help)
           e.g. normbench train model=cnn norm=layer batch_size=8 seed=0
                normbench train -m experiment=bn_vs_ln
  report   turn runs into plots, tables with confidence intervals and verdicts on common claims
           e.g. normbench report results/bn_vs_ln
  migrate  bring run directories of earlier normbench versions up to date (nothing is re-run)
           e.g. normbench migrate results/
  bench    measure normbench's trainer against a bare PyTorch loop (steps/s ratio)

`normbench <command> --help` shows a command's own help; `normbench --version` the version.
Tab completion (bash, zsh with bashcompinit): eval "$(normbench train -sc install=bash)"
"""


def _train(argv: list[str]) -> int:
    from normbench.cli.completion import bash_script, bash_uninstall, completion_request

    request = completion_request(argv)
    if request is not None:  # Hydra's own script would complete a program named `normbench train`
        print(bash_script(COMMANDS) if request == "install" else bash_uninstall(), end="")
        return 0
    from normbench.cli.train import main as train_main

    sys.argv = ["normbench train", *argv]
    train_main()
    return 0


def _advise(argv: list[str]) -> int:
    from normbench.cli.advise import main as advise_main

    return advise_main(argv)


def _report(argv: list[str]) -> int:
    from normbench.report.cli import main as report_main

    return report_main(argv)


def _bench(argv: list[str]) -> int:
    from normbench.cli.bench import main as bench_main

    return bench_main(argv)


def _migrate(argv: list[str]) -> int:
    from normbench.cli.migrate import main as migrate_main

    return migrate_main(argv)


COMMANDS = {"advise": _advise, "train": _train, "report": _report, "migrate": _migrate, "bench": _bench}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        sys.exit(0 if argv else 2)
    if argv[0] in ("--version", "-V", "version"):
        from normbench import __version__

        print(f"normbench {__version__}")
        sys.exit(0)
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"normbench: unknown command {command!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(COMMANDS[command](rest))
    except BrokenPipeError:  # whoever read the output stopped reading (`normbench train --help | head`)
        _quiet_stdout()
        sys.exit(1)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush on the way out raises no second BrokenPipeError
    (the recipe of Python's signal documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    main()
