"""Command-line checks before Hydra starts, each ending in one line that says what to type instead.

Hydra's own errors for these are correct but long (a config search path, a hint about HYDRA_FULL_ERROR),
and a missing launcher plugin only shows up as an unknown option. Checked here:
- `experiment=NAME` and `launcher=NAME` name a config in configs/experiment/ or configs/launcher/, and
  `experiment=` names one study, not a sweep over several;
- `model=`, `norm=`, `data=` and `optim=` name an option that has both a YAML (in configs/ or a plugin's
  configs/) and a registered builder;
- `hydra/launcher=NAME`, or the launcher a `launcher=NAME` preset selects, has its plugin installed.
Anything else is left to Hydra, which validates the whole composed config.
"""

import difflib

from normbench.launch.launchers import LAUNCHER_PLUGINS, installed_launchers, plugin_installed, preset_launcher
from normbench.config.paths import config_dir

CHECKED_GROUPS = {"experiment": "a study", "launcher": "a launcher preset", "model": "a model", "norm": "a norm",
                  "data": "a data set", "optim": "an optimizer"}
OPTION_GROUPS = ("model", "norm", "data", "optim")


def group_options(group: str, extra_dirs=()) -> list[str]:
    """The options of a config group: its YAMLs in configs/ and in the plugins' configs/ directories."""
    return sorted({path.stem for root in (config_dir(), *extra_dirs) for path in (root / group).glob("*.yaml")})


def _unregistered(group: str, value: str) -> str | None:
    """An option with a YAML but no builder: its plugin was not loaded (e.g. user_dir= is missing)."""
    from normbench.config.plugins import registry

    for name in value.split(","):
        if name not in registry(group).names():
            return (f"{group}={name} has a config but no registered builder; load the plugin that registers it "
                    f"(user_dir=DIR or an installed normbench.plugins entry point)")
    return None


def _swept_study(value: str) -> str | None:
    """`experiment=a,b` would run each study's default config once: a study's grid (hydra.sweeper.params)
    is read from the config composed before the sweep, which a swept experiment is not part of."""
    if "," not in value:
        return None
    first = value.split(",")[0]
    return (f"experiment={value}: run one study per command (e.g. normbench train -m experiment={first}); "
            f"sweeping over studies would skip each study's own grid")


def _unknown_option(group: str, value: str, extra_dirs=()) -> str | None:
    options = group_options(group, extra_dirs)
    for name in value.split(","):  # `launcher=a,b` names two
        if name in options or name == "null":
            continue
        close = difflib.get_close_matches(name, options, n=1)
        hint = f" (did you mean {group}={close[0]}?)" if close else ""
        where = f"configs/{group}/" + (" or a plugin's configs/" if extra_dirs else "")
        return f"{group}={name} is not {CHECKED_GROUPS[group]} in {where}; choose one of: {', '.join(options)}{hint}"
    return None


def _missing_plugin(argument: str, launcher: str | None) -> str | None:
    if launcher not in LAUNCHER_PLUGINS or plugin_installed(launcher):
        return None  # installed, or unknown to us: Hydra lists the launchers it has
    package = LAUNCHER_PLUGINS[launcher][0]
    return (f"{argument} needs the {package} plugin, which is not installed (pip install {package}); "
            f"installed launchers: {', '.join(installed_launchers())}")


# Options that add config directories: the groups' options are then more than configs/ holds.
SEARCH_PATH_OPTIONS = ("--config-dir", "-cd", "--config-path", "-cp")


def command_line_error(argv: list[str], plugin_configs=()) -> str | None:
    """The first problem with the command line's group choices, as one line; None if fine. `plugin_configs`:
    the plugins' configs/ directories (their options are allowed too)."""
    extra_configs = any(arg.split("=", 1)[0] in SEARCH_PATH_OPTIONS for arg in argv)
    for argument in argv:
        key, sep, value = argument.partition("=")
        key = key.lstrip("+~")
        if not sep:
            continue
        if key in CHECKED_GROUPS and any(mark in value for mark in "()[]{}*"):
            continue  # a sweep function (choice(...), glob(...), range): Hydra expands and checks it
        if key in CHECKED_GROUPS:
            problem = _swept_study(value) if key == "experiment" else None
            problem = problem or (None if extra_configs else _unknown_option(key, value, plugin_configs))
            if problem is None and key in OPTION_GROUPS:
                problem = _unregistered(key, value)
            if problem is None and key == "launcher":
                problem = _missing_plugin(argument, preset_launcher(value))
        elif key == "hydra/launcher":
            problem = _missing_plugin(argument, value)
        else:
            continue
        if problem:
            return problem
    return None
