"""Command-line checks before Hydra starts, each ending in one line that says what to type instead.

Hydra's own errors for these are correct but long (a config search path, a hint about HYDRA_FULL_ERROR),
and a missing launcher plugin only shows up as an unknown option. Checked here:
- `experiment=NAME` and `launcher=NAME` name a config in configs/experiment/ or configs/launcher/, and
  `experiment=` names one study, not a sweep over several;
- `hydra/launcher=NAME`, or the launcher a `launcher=NAME` preset selects, has its plugin installed;
- a launcher comes with -m: without it Hydra runs the one job in this process and ignores the launcher,
  so `normbench train launcher=slurm ...` would quietly train on the login node.
Anything else is left to Hydra, which validates the whole composed config.
"""

import difflib

from normbench.launch.launchers import LAUNCHER_PLUGINS, installed_launchers, plugin_installed, preset_launcher
from normbench.config.paths import config_dir

CHECKED_GROUPS = {"experiment": "a study", "launcher": "a launcher preset"}


def group_options(group: str) -> list[str]:
    return sorted(path.stem for path in (config_dir() / group).glob("*.yaml"))


def _swept_study(value: str) -> str | None:
    """`experiment=a,b` would run each study's default config once: a study's grid (hydra.sweeper.params)
    is read from the config composed before the sweep, which a swept experiment is not part of."""
    if "," not in value:
        return None
    first = value.split(",")[0]
    return (f"experiment={value}: run one study per command (e.g. normbench train -m experiment={first}); "
            f"sweeping over studies would skip each study's own grid")


def _unknown_option(group: str, value: str) -> str | None:
    options = group_options(group)
    for name in value.split(","):  # `launcher=a,b` names two
        if name in options or name == "null":
            continue
        close = difflib.get_close_matches(name, options, n=1)
        hint = f" (did you mean {group}={close[0]}?)" if close else ""
        return (f"{group}={name} is not {CHECKED_GROUPS[group]} in configs/{group}/; choose one of: "
                f"{', '.join(options)}{hint}")
    return None


def _missing_plugin(argument: str, launcher: str | None) -> str | None:
    if launcher not in LAUNCHER_PLUGINS or plugin_installed(launcher):
        return None  # installed, or unknown to us: Hydra lists the launchers it has
    package = LAUNCHER_PLUGINS[launcher][0]
    return (f"{argument} needs the {package} plugin, which is not installed (pip install {package}); "
            f"installed launchers: {', '.join(installed_launchers())}")


# Options that add config directories: the groups' options are then more than configs/ holds.
SEARCH_PATH_OPTIONS = ("--config-dir", "-cd", "--config-path", "-cp")


# Hydra's options that make it a sweep, and those after which it prints something and trains nothing.
MULTIRUN_OPTIONS = ("-m", "--multirun")
NO_RUN_OPTIONS = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--version", "--shell-completion",
                  "-sc")


def _is_sweep(argv: list[str]) -> bool:
    return any(arg in MULTIRUN_OPTIONS or arg.lstrip("+").upper() == "HYDRA.MODE=MULTIRUN" for arg in argv)


def _launcher_without_sweep(argument: str) -> str:
    return (f"{argument} needs -m: a launcher runs the jobs of a sweep (normbench train -m {argument} ...); "
            f"without -m Hydra would ignore it and train the one run here, in this process")


def command_line_error(argv: list[str]) -> str | None:
    """The first problem with the command line's experiment/launcher choices, as one line; None if fine."""
    extra_configs = any(arg.split("=", 1)[0] in SEARCH_PATH_OPTIONS for arg in argv)
    runs_here = not _is_sweep(argv) and not any(arg.split("=", 1)[0] in NO_RUN_OPTIONS for arg in argv)
    for argument in argv:
        key, sep, value = argument.partition("=")
        key = key.lstrip("+~")
        if not sep:
            continue
        if key in CHECKED_GROUPS:
            problem = _swept_study(value) if key == "experiment" else None
            problem = problem or (None if extra_configs else _unknown_option(key, value))
            if problem is None and key == "launcher":
                problem = _missing_plugin(argument, preset_launcher(value))
        elif key == "hydra/launcher":
            problem = _missing_plugin(argument, value)
        else:
            continue
        if problem is None and runs_here and key != "experiment" and value != "null" and not argument.startswith("~"):
            problem = _launcher_without_sweep(argument)
        if problem:
            return problem
    return None
