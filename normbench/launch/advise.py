"""What `normbench advise` runs: the sweep that answers "which norm for this model, data set and batch size?".

Every norm that applies to the model (it builds on each of the model's norm sites, and a batch-dependent
norm only for batch sizes >= 2), 3 seeds, each batch size asked for, at a named step budget
(configs/advise/). The sweep is `normbench train -m` itself, run in this process: the same run names,
the same skipping of finished runs (so rerunning resumes), any launcher (local cores by default).

A norm's own settings (`norm.groups=4`) go to the norms whose schema has that key only: those norms get a
sweep of their own, since one `-m` sweep composes every key with every norm. GroupNorm without `norm.groups`
gets its group count from the model's norm sites (normbench.decide.groups). Every norm left out is said,
with its reason, before anything trains; so is a norm that is another one exactly at that batch size
(ghost_batch with a virtual batch >= the batch is BN), which is not trained twice.
"""

import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

from normbench.config.paths import config_dir
from normbench.config.plugins import load_options, plugin_config_dirs, searchpath_override, user_dir_argument
from normbench.errors import ConfigError

SEEDS = "0,1,2"
DEFAULT_LAUNCHER = "launcher=local"  # parallel on this machine's cores unless a launcher is given
SWEPT = ("batch_size", "norm", "seed")  # the keys advise sweeps itself; the user's values narrow them
LAUNCHER_KEYS = ("launcher", "hydra/launcher")
NORM_KEY = "norm."  # a norm's own setting: applied to the norms whose schema has the key


def budgets() -> list[str]:
    """The named step budgets: configs/advise/*.yaml."""
    return sorted(path.stem for path in (config_dir() / "advise").glob("*.yaml"))


@dataclass(frozen=True)
class Arm:
    """One norm advise trains, with the `norm.KEY=VALUE` settings that are its alone."""

    norm: str
    settings: tuple = ()


@dataclass(frozen=True)
class Sweep:
    """One `normbench train -m` of the advice: batch sizes that share one set of norms, and those norms' settings."""

    batch_sizes: tuple
    norms: tuple
    settings: tuple = ()  # `norm.KEY=VALUE`: keys every one of these norms has

    def arguments(self, fixed: list[str], seeds: str) -> list[str]:
        return ["-m", *fixed, *self.settings, f"batch_size={','.join(map(str, self.batch_sizes))}",
                f"norm={','.join(self.norms)}", f"seed={seeds}"]


@dataclass(frozen=True)
class Plan:
    fixed: list  # the user's overrides that advise does not sweep, the budget and the launcher
    seeds: str
    sweeps: list  # Sweep per distinct set of norms and settings
    notes: tuple = ()  # one line each: a norm left out and why, a group count chosen by the rule

    def arguments(self) -> list[list[str]]:
        return [sweep.arguments(self.fixed, self.seeds) for sweep in self.sweeps]


def parse(overrides: list[str]) -> dict:
    """key -> parsed Hydra override (the last one of a key wins, as in Hydra); a bad override is a ConfigError."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as error:  # Hydra's OverrideParseException names the override and what is wrong
        raise ConfigError(f"normbench advise: {error}") from None
    return {override.key_or_group: override for override in parsed}


def values(override) -> list[str]:
    """The values an override asks for: each of a sweep (`4,32`), or its one value."""
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    return [override.get_value_element_as_str()]


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def plan(overrides: list[str], budget: str) -> Plan:
    """The sweeps that answer the question for the model, data and batch size(s) the overrides select."""
    from normbench.norms import NORMS

    if budget not in budgets():
        raise ConfigError(f"--budget {budget}: choose one of {', '.join(budgets())} (configs/advise/)")
    parsed = parse(overrides)
    user_dir = user_dir_argument(overrides)
    load_options(user_dir)  # a user_dir's norms and models count too, and its configs/ joins the search path
    plugin_configs = plugin_config_dirs(user_dir)
    settings = [override for override in overrides if _key(override).startswith(NORM_KEY)]
    fixed = [override for override in overrides if _key(override) not in SWEPT and override not in settings]
    fixed.append(f"advise={budget}")
    if not any(key in parsed for key in LAUNCHER_KEYS):
        fixed.append(DEFAULT_LAUNCHER)
    batch_sizes = [int(value) for value in values(parsed["batch_size"])] if "batch_size" in parsed else [None]
    asked = values(parsed["norm"]) if "norm" in parsed else None
    composable = [override for override in fixed if _key(override) not in LAUNCHER_KEYS
                  and not override.startswith("hydra")]
    candidates = NORMS.names() if asked is None else [name for name in asked if name in NORMS.names()]
    own = settings_by_norm(settings, candidates)
    configs, unavailable = compose_norms(candidates, own, composable, plugin_configs, asked is not None)
    by_sweep: dict[tuple, list] = {}  # (norms, their settings) -> the batch sizes that train them
    left_out: dict[tuple, list] = {}  # (norm, reason) -> the batch sizes where it is left out
    notes: dict[str, None] = {}
    for batch_size in batch_sizes:
        # Composed with norm=none, which fits every site, to read the model, its norm sites and the data.
        cfg = compose([*composable, "norm=none", *([f"batch_size={batch_size}"] if batch_size is not None else [])],
                      plugin_configs)
        assessment = assess_norms(cfg, configs, own)
        for key in same_settings(choose_arms(assessment, asked, cfg)):
            by_sweep.setdefault(key, []).append(cfg.batch_size)
        for name, reason in {**unavailable, **assessment.left_out}.items():
            left_out.setdefault((name, reason), []).append(cfg.batch_size)
        notes.update(dict.fromkeys(assessment.notes))
    notes.update(dict.fromkeys(left_out_lines(left_out, batch_sizes)))
    seeds = ",".join(values(parsed["seed"])) if "seed" in parsed else SEEDS
    sweeps = [Sweep(tuple(sizes), norms, settings) for (norms, settings), sizes in by_sweep.items()]
    return Plan(fixed, seeds, sweeps, tuple(notes))


def same_settings(arms: list[Arm]) -> list[tuple]:
    """(norms, settings) per distinct settings among the arms: what one `-m` sweep can train together."""
    by_settings: dict[tuple, list] = {}
    for arm in arms:
        by_settings.setdefault(arm.settings, []).append(arm.norm)
    return [(tuple(norms), settings) for settings, norms in by_settings.items()]


def left_out_lines(left_out: dict[tuple, list], batch_sizes: list) -> list[str]:
    """One line per reason and batch sizes, naming every norm left out for it."""
    by_reason: dict[tuple, list] = {}
    for (name, reason), sizes in left_out.items():
        where = "" if len(sizes) == len(batch_sizes) else f" at batch_size={','.join(map(str, sizes))}"
        by_reason.setdefault((where, reason), []).append(name)
    return [f"leaves out {', '.join(names)}{where}: {reason}" for (where, reason), names in by_reason.items()]


def compose_norms(names: list[str], own: dict[str, tuple], composable: list[str], plugin_configs, asked: bool):
    """(name -> each norm as `normbench train norm=NAME` composes it: its YAML's values, then the user's settings
    of it; name -> why a norm not asked for cannot be composed, e.g. registered without a YAML)."""
    configs, unavailable = {}, {}
    for name in names:
        try:
            configs[name] = norm_config(compose([*composable, f"norm={name}", *own[name]], plugin_configs))
        except ConfigError as error:
            if asked or own[name]:  # the user's choice or setting is wrong: said, not passed over
                raise
            unavailable[name] = str(error).removeprefix("normbench advise: ")
    return configs, unavailable


def norm_config(cfg):
    """The composed norm, typed by its schema and checked (a user's `norm.groups=0` is refused here)."""
    from omegaconf import OmegaConf

    norm = OmegaConf.to_object(cfg.norm)
    norm.check()
    return norm


def settings_by_norm(settings: list[str], norms: list[str]) -> dict[str, tuple]:
    """norm -> the user's `norm.KEY=VALUE` settings whose KEY its schema has; a key none of them has is refused."""
    from normbench.norms import NORMS

    keys = {name: {field.name for field in fields(NORMS.get(name).config)} - {"name"} for name in norms}
    own: dict[str, tuple] = dict.fromkeys(norms, ())
    for setting in settings:
        key = _key(setting)[len(NORM_KEY):].split(".")[0]
        having = [name for name in norms if key in keys[name]]
        if not having:
            known = sorted(set().union(*keys.values()))
            raise ConfigError(f"{NORM_KEY}{key} is a key of none of the norms advise would run "
                              f"({', '.join(norms)}); their keys: {', '.join(NORM_KEY + k for k in known)}")
        for name in having:
            own[name] += (setting,)
    return own


def choose_arms(assessment, asked: list[str] | None, cfg) -> list[Arm]:
    """The applicable norms, or those asked for (`norm=batch,layer`), refusing one that does not apply."""
    arms = assessment.arms
    if asked is None:
        return [arm for arm in arms if arm.norm not in assessment.left_out]
    applicable = [arm.norm for arm in arms]
    refused = [norm for norm in asked if norm not in applicable]
    if refused:
        raise ConfigError(f"norm={refused[0]} does not apply to model={cfg.model.name} at batch_size={cfg.batch_size}; "
                          f"norms that apply: {', '.join(applicable)}")
    return [arm for arm in arms if arm.norm not in assessment.left_out]


def compose(overrides: list[str], extra_config_dirs=(), hydra: bool = False):
    """The config `normbench train` would compose for these overrides (one job, no sweep), with the plugins'
    configs/ directories on Hydra's search path as `normbench train` puts them there (`hydra`: with Hydra's node,
    for the launcher and the sweep directory)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import normbench.cli.train  # noqa: F401  (registers the schemas and normbench's resolvers)

    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            searchpath = [searchpath_override(extra_config_dirs)] if extra_config_dirs else []
            return hydra_compose("config", overrides=[*overrides, *searchpath], return_hydra_config=hydra)
    except Exception as error:  # Hydra's config errors: a missing option, a wrong type; said in one line
        raise ConfigError(f"normbench advise: {str(error).splitlines()[0]}") from None


@dataclass(frozen=True)
class Assessment:
    """What each norm does on one model at one batch size."""

    arms: list  # Arm per norm that builds on every norm site, in the registry's order
    left_out: dict  # norm -> why it is not trained (no meaning on a site, no batch to take statistics over, a twin)
    notes: list  # settings advise chose by a rule


def assess_norms(cfg, configs: dict, own: dict[str, tuple]) -> Assessment:
    """Which of the norms (name -> its composed config) build on the model at cfg's batch size, with which
    settings. A model that fixes a norm per layer (`model.layer_norms`) leaves nothing to choose: refused."""
    from normbench.config.validate import validate
    from normbench.data import load_data
    from normbench.models import InputSpec, build_model
    from normbench.norms import NormFactory, traits

    options = validate(cfg)
    if options.model.layer_norm_names():
        raise ConfigError("normbench advise compares norms across the whole model; model.layer_norms fixes one per "
                          "layer: leave it out")
    data = options.data
    if not data.shape:  # a data set read from files learns its shape when loaded
        load_data(data)
    spec = InputSpec(tuple(data.shape), data.num_classes)
    survey = NormFactory(options.norm, owner=f"model={options.model.name}")  # norm=none: records the norm sites
    build_model(options.model, spec, survey)
    channels = [site.num_features for site in survey.sites]
    arms, left_out, notes, twins = [], {}, [], {}
    for name, composed in configs.items():
        if traits(name).batch_dependent and cfg.batch_size < 2:
            left_out[name] = "statistics across the batch need batch_size >= 2"
            continue
        norm, settings, note = _with_rule_groups(composed, own[name], channels)
        try:
            build_model(options.model, spec, NormFactory(norm, owner=f"model={options.model.name}"))
        except ConfigError as error:  # no meaning on one of the model's norm sites, or a size it cannot split
            left_out[name] = str(error)
            continue
        arms.append(Arm(name, settings))
        notes += [note] if note else []
        twin = _twin(norm, cfg.batch_size)
        if twin:
            twins[name] = twin
    built = {arm.norm for arm in arms}
    # A norm that is another one exactly is left out beside that one only: asked for alone, it runs.
    left_out.update({name: reason for name, (other, reason) in twins.items() if other in built})
    return Assessment(arms, left_out, notes)


def _with_rule_groups(norm, settings: tuple, channels: list[int]):
    """GroupNorm without the user's `norm.groups`: the count from the model's channels (decide/groups.py)."""
    from normbench.decide.groups import GROUPS_RULE, choose_groups
    from normbench.norms.group import GroupNormConfig

    if not isinstance(norm, GroupNormConfig) or not channels or any(
            _key(setting) == f"{NORM_KEY}groups" for setting in settings):
        return norm, settings, None
    groups = choose_groups(channels)
    if groups != norm.groups:
        settings = (*settings, f"{NORM_KEY}groups={groups}")
    sites = ", ".join(map(str, sorted(set(channels))))
    return replace(norm, groups=groups), settings, (
        f"{norm.name} runs with norm.groups={groups} for norm sites of {sites} channels: {GROUPS_RULE} "
        f"(set norm.groups=N to choose)")


def _twin(norm, batch_size: int) -> tuple[str, str] | None:
    """(the norm this one is exactly at this batch size, why), or None."""
    from normbench.norms.ghost_batch import GhostBatchConfig
    from normbench.norms.group import GroupNormConfig

    if isinstance(norm, GhostBatchConfig) and norm.virtual_batch_size >= batch_size:
        return "batch", (f"with norm.virtual_batch_size={norm.virtual_batch_size} >= the batch size it is batch "
                         f"exactly (one virtual batch per step): not run as a separate arm")
    if isinstance(norm, GroupNormConfig) and norm.groups == 1:
        return "layer", "with norm.groups=1 it is layer exactly (GroupNorm(1, C)): not run as a separate arm"
    return None


def run_sweep(arguments: list[str]):
    """`normbench train ARGUMENTS` in this process; (exit status, the sweep's tally or None if it never ran)."""
    from normbench.cli import train
    from normbench.launch import tally

    before, saved = tally.last_tally(), sys.argv
    sys.argv = ["normbench train", *arguments]
    status = 0
    try:
        train.main()
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = saved
        _release_joblib_workers()
    after = tally.last_tally()
    return status, (after if after is not before else None)


def _release_joblib_workers() -> None:
    """Stop launcher=local's worker processes after a sweep. joblib keeps them for the next Parallel call, and a
    worker keeps the environment it started with: the ledger of the sweep that started it (normbench.launch.tally),
    so a second sweep in this process would record its jobs in the first one's ledger. (joblib's own recipe for
    releasing them: get_reusable_executor().shutdown.)"""
    if "joblib" not in sys.modules:
        return
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def run_dirs(tally) -> list[Path]:
    """The run directories of a sweep's jobs (trained now or finished before), that exist."""
    paths = [Path(tally.sweep_dir) / record["run"] for record in tally.records if record.get("run")]
    return sorted(path for path in set(paths) if path.is_dir())
