"""What `normbench advise` runs: the sweep that answers "which norm for this model, data set and batch size?".

Every norm that applies to the model (it builds on each of the model's norm sites, and a batch-dependent
norm only for batch sizes >= 2), 3 seeds, each batch size asked for, at a named step budget
(configs/advise/). The sweep is `normbench train -m` itself, run in this process: the same run names,
the same skipping of finished runs (so rerunning resumes), any launcher (local cores by default).
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

from normbench.config.paths import config_dir
from normbench.config.plugins import load_options, plugin_config_dirs, searchpath_override, user_dir_argument
from normbench.errors import ConfigError

SEEDS = "0,1,2"
DEFAULT_LAUNCHER = "launcher=local"  # parallel on this machine's cores unless a launcher is given
SWEPT = ("batch_size", "norm", "seed")  # the keys advise sweeps itself; the user's values narrow them
LAUNCHER_KEYS = ("launcher", "hydra/launcher")


def budgets() -> list[str]:
    """The named step budgets: configs/advise/*.yaml."""
    return sorted(path.stem for path in (config_dir() / "advise").glob("*.yaml"))


@dataclass(frozen=True)
class Sweep:
    """One `normbench train -m` of the advice: batch sizes that share one set of applicable norms."""

    batch_sizes: tuple
    norms: tuple

    def arguments(self, fixed: list[str], seeds: str) -> list[str]:
        return ["-m", *fixed, f"batch_size={','.join(map(str, self.batch_sizes))}", f"norm={','.join(self.norms)}",
                f"seed={seeds}"]


@dataclass(frozen=True)
class Plan:
    fixed: list  # the user's overrides that advise does not sweep, the budget and the launcher
    seeds: str
    sweeps: list  # Sweep per distinct set of norms

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


def plan(overrides: list[str], budget: str) -> Plan:
    """The sweeps that answer the question for the model, data and batch size(s) the overrides select."""
    if budget not in budgets():
        raise ConfigError(f"--budget {budget}: choose one of {', '.join(budgets())} (configs/advise/)")
    parsed = parse(overrides)
    user_dir = user_dir_argument(overrides)
    load_options(user_dir)  # a user_dir's norms and models count too, and its configs/ joins the search path
    plugin_configs = plugin_config_dirs(user_dir)
    fixed = [override for override in overrides if override.split("=", 1)[0].lstrip("+~") not in SWEPT]
    fixed.append(f"advise={budget}")
    if not any(key in parsed for key in LAUNCHER_KEYS):
        fixed.append(DEFAULT_LAUNCHER)
    batch_sizes = [int(value) for value in values(parsed["batch_size"])] if "batch_size" in parsed else [None]
    asked = values(parsed["norm"]) if "norm" in parsed else None
    composable = [override for override in fixed if override.split("=", 1)[0].lstrip("+~") not in LAUNCHER_KEYS
                  and not override.startswith("hydra")]
    # Composed with one norm (the first asked for, else none, which fits every site) to read the model and data.
    composable.append(f"norm={asked[0] if asked else 'none'}")
    by_norms: dict[tuple, list] = {}
    for batch_size in batch_sizes:
        cfg = compose([*composable, *([f"batch_size={batch_size}"] if batch_size is not None else [])],
                      plugin_configs)
        norms = choose_norms(applicable_norms(cfg), asked, cfg)
        by_norms.setdefault(tuple(norms), []).append(cfg.batch_size)
    seeds = ",".join(values(parsed["seed"])) if "seed" in parsed else SEEDS
    return Plan(fixed, seeds, [Sweep(tuple(sizes), norms) for norms, sizes in by_norms.items()])


def choose_norms(applicable: list[str], asked: list[str] | None, cfg) -> tuple:
    """The applicable norms, or those asked for (`norm=batch,layer`), refusing one that does not apply."""
    if asked is None:
        return tuple(applicable)
    refused = [norm for norm in asked if norm not in applicable]
    if refused:
        raise ConfigError(f"norm={refused[0]} does not apply to model={cfg.model.name} at batch_size={cfg.batch_size}; "
                          f"norms that apply: {', '.join(applicable)}")
    return tuple(asked)


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


def applicable_norms(cfg) -> list[str]:
    """Every registered norm the model builds with at this batch size, in the registry's order. A model that
    fixes a norm per layer (`model.layer_norms`) leaves nothing to choose: refused."""
    from normbench.config.validate import validate
    from normbench.data import load_data
    from normbench.models import InputSpec, build_model
    from normbench.norms import NORMS, NormFactory, norm_config, traits

    options = validate(cfg)
    if options.model.layer_norm_names():
        raise ConfigError("normbench advise compares norms across the whole model; model.layer_norms fixes one per "
                          "layer: leave it out")
    data = options.data
    if not data.shape:  # a data set read from files learns its shape when loaded
        load_data(data)
    spec = InputSpec(tuple(data.shape), data.num_classes)
    shared = {"eps": options.norm.eps, "affine": options.norm.affine}
    found = []
    for name in NORMS.names():
        if traits(name).batch_dependent and cfg.batch_size < 2:
            continue
        # The composed norm keeps the user's settings of it (e.g. norm.groups); the others their defaults.
        norm = options.norm if name == options.norm.name else norm_config(name, **shared)
        try:
            build_model(options.model, spec, NormFactory(norm))
        except ConfigError:  # no meaning on one of the model's norm sites, or a size it cannot split (groups)
            continue
        found.append(name)
    return found


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
