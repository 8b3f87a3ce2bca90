"""Command-line checks before Hydra starts, each ending in one line that says what to type instead.

Hydra's own errors for these are correct but long (a config search path, a hint about HYDRA_FULL_ERROR),
and a missing launcher plugin only shows up as an unknown option. Checked here:
- `experiment=NAME` and `launcher=NAME` name a config in configs/experiment/ or configs/launcher/, and
  `experiment=` names one study, not a sweep over several;
- `model=`, `norm=`, `data=` and `optim=` name an option that has both a YAML (in configs/ or a plugin's
  configs/) and a registered builder;
- `hydra/launcher=NAME`, or the launcher a `launcher=NAME` preset selects, has its plugin installed;
- a launcher comes with -m: without it Hydra runs the one job in this process and ignores the launcher,
  so `normbench train launcher=slurm ...` would quietly train on the login node;
- every overridden key exists: a top-level key, a trainer or probe key, or a key of the option the command
  line selects (its `model=` override, else config.yaml's default; any option of the group where a study
  chooses): another option's key names that option ("model.cell is a key of model=rnn; choose model=rnn or
  drop it"), a misspelling gets the closest key of the selected option (`norm=group norm.grups=3`: "did you
  mean norm.groups?"; `optimizer=sgd`: "did you mean optim=sgd?"), also with `+`, which would otherwise add
  a key no code reads;
- results_dir is a directory that can be written (not a file, not below a file, not read-only).
Anything else is left to Hydra, which validates the whole composed config against the selected options'
schemas (normbench/config/validate.py refuses any key a `+` slipped past them).
"""

import difflib
import os
from dataclasses import fields
from pathlib import Path

from normbench.config.paths import config_dir
from normbench.launch.launchers import LAUNCHER_PLUGINS, installed_launchers, plugin_installed, preset_launcher

CHECKED_GROUPS = {"experiment": "a study", "launcher": "a launcher preset", "model": "a model", "norm": "a norm",
                  "data": "a data set", "optim": "an optimizer", "logger": "an experiment tracker",
                  "advise": "a step budget of normbench advise"}

def _registered_groups() -> tuple[str, ...]:
    """The groups whose options are registered in Python (with a schema), not only written as YAML."""
    from normbench.config.schema import OPTION_GROUPS, VIEW_GROUPS

    return (*OPTION_GROUPS, *VIEW_GROUPS)


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


# Hydra's options that take a value: the argument after one of them (e.g. `-sc query=bash`) is not an override.
VALUE_OPTIONS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir",
                 "-cd", "--experimental-rerun", "--shell-completion", "-sc", "--info", "-i"}

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


FREE_KEYS = ("extra",)  # free-form metadata: any key may be added under it


def _fields(schema) -> list[str]:
    return [f.name for f in fields(schema)]


def _option_keys(group: str) -> dict[str, list[str]]:
    """Each registered option of the group -> its keys."""
    from normbench.config.plugins import registry

    return {name: _fields(option.config) for name, option in registry(group).entries().items()}


def _default_option(group: str) -> str | None:
    """The option configs/config.yaml's defaults list selects for `group` (e.g. model: mlp)."""
    import yaml

    defaults = yaml.safe_load((config_dir() / "config.yaml").read_text(encoding="utf-8")).get("defaults", [])
    return next((entry[group] for entry in defaults if isinstance(entry, dict) and group in entry), None)


def selected_options(group: str, argv: list[str]) -> list[str] | None:
    """The options of `group` this command line runs: its `group=a,b` override, else config.yaml's default;
    None where a study or another config directory may choose it instead (experiment=, --config-dir) or a sweep
    function does (model=choice(...))."""
    chosen = None
    for argument in argv:
        key, sep, value = argument.partition("=")
        if sep and key.lstrip("+") == group:
            chosen = value
    if chosen is None:
        if any(a.split("=", 1)[0].lstrip("+") in ("experiment", *SEARCH_PATH_OPTIONS) and not a.endswith("=null")
               for a in argv):
            return None
        chosen = _default_option(group)
    if chosen is None or any(mark in chosen for mark in "()[]{}*$"):
        return None
    return chosen.split(",")


def _group_key_problem(group: str, key: str, value: str, name: str, argv: list[str]) -> str | None:
    """An option group's key that the selected option(s) lack: the options that have it, or the closest of the
    selected options' own keys (never another option's)."""
    keys = _option_keys(group)
    selected = [option for option in (selected_options(group, argv) or keys) if option in keys]
    own = sorted({k for option in selected for k in keys[option]})
    if not selected or name in own:
        return None
    having = [option for option, fields_ in sorted(keys.items()) if name in fields_]
    chosen = ",".join(selected)
    if having:
        choices = " or ".join(f"{group}={option}" for option in having)
        return (f"{key}={value}: {group}.{name} is a key of {choices}, not of {group}={chosen}; choose {choices} "
                f"or drop it")
    close = difflib.get_close_matches(name, own, n=1)
    hint = f" (did you mean {group}.{close[0]}?)" if close else ""
    return f"{key}={value}: {group}={chosen} has no key {name!r}{hint}; its keys: {', '.join(own)}"


def _unknown_key(key: str, value: str, argv: list[str] = ()) -> str | None:
    """A one-line refusal of an override whose key nothing in the schema has, with the closest keys."""
    from normbench.config.schema import OPTION_GROUPS as SCHEMA_GROUPS
    from normbench.config.schema import VIEW_GROUPS, Config, ProbeConfig, TrainerConfig

    top, _, rest = key.partition(".")
    if top in FREE_KEYS or top == "hydra" or "/" in top:
        return None
    known_top = [*_fields(Config), *CHECKED_GROUPS]
    if top not in known_top:
        close = difflib.get_close_matches(top, known_top, n=1)
        hint = f" (did you mean {close[0]}{'.' + rest if rest else ''}={value}?)" if close else ""
        return f"{key}={value}: there is no setting {top!r}{hint}; see normbench train --help"
    if not rest:
        return None
    nested = {"trainer": _fields(TrainerConfig), "probe": _fields(ProbeConfig)}
    name = rest.split(".")[0]
    if top in (*SCHEMA_GROUPS, *VIEW_GROUPS) and top not in nested:
        return _group_key_problem(top, key, value, name, list(argv))
    keys = nested.get(top)
    if keys is None or name in keys:
        return None
    close = difflib.get_close_matches(name, keys, n=1)
    hint = f" (did you mean {top}.{close[0]}?)" if close else ""
    return f"{key}={value}: {top} has no key {name!r}{hint}; its keys: {', '.join(keys)}"


def _objective_problem(key: str, value: str) -> str | None:
    """objective= must name a summary metric and objective_direction= a direction (a sweep of either: each)."""
    from normbench.config.schema import Config
    from normbench.launch.objective import objective_problem

    if key not in ("objective", "objective_direction") or any(mark in value for mark in "()[]{}*$"):
        return None
    for one in value.split(","):
        metric, direction = (one, Config.objective_direction) if key == "objective" else (Config.objective, one)
        problem = objective_problem(metric, direction)
        if problem:
            return problem
    return None


def _results_dir_problem(argv: list[str]) -> str | None:
    """results_dir (the last override, else the default) must be a writable directory or creatable as one."""
    from normbench.config.schema import Config

    value = Config.results_dir
    for argument in argv:
        key, sep, given = argument.partition("=")
        if sep and key.lstrip("+") == "results_dir":
            value = given
    path = Path(value).expanduser().absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        where = "is a file" if existing == path else f"is below the file {existing}"
        return f"results_dir={value} {where}; give a directory (it is created if missing)"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"results_dir={value}: {existing} is not writable (permission denied); give a writable directory"
    return None


def command_line_error(argv: list[str], plugin_configs=()) -> str | None:
    """The first problem with the command line's group choices, as one line; None if fine. `plugin_configs`:
    the plugins' configs/ directories (their options are allowed too)."""
    extra_configs = any(arg.split("=", 1)[0] in SEARCH_PATH_OPTIONS for arg in argv)
    runs_here = not _is_sweep(argv) and not any(arg.split("=", 1)[0] in NO_RUN_OPTIONS for arg in argv)
    problem = _results_dir_problem(argv)
    if problem:
        return problem
    for index, argument in enumerate(argv):
        if index > 0 and argv[index - 1] in VALUE_OPTIONS:
            continue
        key, sep, value = argument.partition("=")
        removal = key.startswith("~")
        key = key.lstrip("+~")
        if not sep or argument.startswith("-"):
            continue
        problem = None if removal else _unknown_key(key, value, argv) or _objective_problem(key, value)
        if problem:
            return problem
        if key in CHECKED_GROUPS and any(mark in value for mark in "()[]{}*"):
            continue  # a sweep function (choice(...), glob(...), range): Hydra expands and checks it
        if key in CHECKED_GROUPS:
            problem = _swept_study(value) if key == "experiment" else None
            problem = problem or (None if extra_configs else _unknown_option(key, value, plugin_configs))
            if problem is None and key in _registered_groups():
                problem = _unregistered(key, value)
            if problem is None and key == "launcher":
                problem = _missing_plugin(argument, preset_launcher(value))
        elif key == "hydra/launcher":
            problem = _missing_plugin(argument, value)
        else:
            continue
        launcher = key in ("launcher", "hydra/launcher")
        if problem is None and launcher and runs_here and value != "null" and not argument.startswith("~"):
            problem = _launcher_without_sweep(argument)
        if problem:
            return problem
    return None
