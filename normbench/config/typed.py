"""A resolved config read back from a run directory (`.hydra/config.yaml`), typed by today's schemas.

Used to recompute a run's identity without composing anything: by `normbench migrate`, which brings run
directories of earlier versions up to date, and wherever a run's own recorded config must decide its identity.
"""

from dataclasses import fields

from omegaconf import DictConfig, OmegaConf

from normbench.config.options import NO_DEFAULT, legacy_value
from normbench.config.plugins import load_options, registry
from normbench.config.schema import OPTION_GROUPS, Config
from normbench.errors import ConfigError

_SETTING_SECTIONS = ("trainer", "probe")  # typed sections of the top config that may gain added fields
# normbench 0.1 wrote model.input_norm as a string; today it is a bool, null meaning auto.
_LEGACY_VALUES = {("model", "input_norm"): {"auto": None, "true": True, "false": False}}


def typed_config(resolved: dict) -> DictConfig:
    """`resolved` (plain values, e.g. a run's .hydra/config.yaml) merged onto the schemas of the options it
    selects. Keys the option's schema does not have (normbench 0.1 gave every option every option's keys)
    are dropped; a key the config lacks because it was written before the key existed (an `added_field`) gets
    the value such runs had, its legacy value, not today's default; a value the schema refuses is a ConfigError."""
    load_options(resolved.get("user_dir"))
    top = {f.name for f in fields(Config)}
    cfg = OmegaConf.structured(Config)
    try:
        settings = {key: value for key, value in resolved.items() if key in top and key not in OPTION_GROUPS}
        for key in _SETTING_SECTIONS:  # the trainer's and probes' added fields, at the values old runs had
            settings[key] = {**_as_before(OmegaConf.get_type(cfg[key]), dict(settings.get(key) or {})),
                             **dict(settings.get(key) or {})}
        cfg.merge_with(settings)
        for group in OPTION_GROUPS:
            values = dict(resolved[group])
            schema = registry(group).get(values["name"]).config
            own = {f.name for f in fields(schema)}
            section = {key: _current(group, key, value) for key, value in values.items() if key in own}
            cfg[group] = OmegaConf.merge(OmegaConf.structured(schema), _as_before(schema, section), section)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"the recorded config cannot be read with today's schemas: {error}") from None
    return cfg


def _as_before(schema, recorded: dict) -> dict:
    """The legacy value of every added field of `schema` that `recorded` lacks (it was written before them)."""
    missing = (spec for spec in fields(schema) if spec.name not in recorded)
    return {spec.name: value for spec in missing if (value := legacy_value(spec)) is not NO_DEFAULT}


def _current(group: str, key: str, value):
    legacy = _LEGACY_VALUES.get((group, key))
    return legacy.get(value, value) if legacy and isinstance(value, str) else value
