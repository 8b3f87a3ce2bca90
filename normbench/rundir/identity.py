"""A run's identity: a readable name built from what varies, and hashes of what the run computes.

Never a timestamp: the same configuration always maps to the same directory, which is what lets a sweep
skip finished runs and refuse to mix runs of different configurations under one name.

The identity (version 2) is the resolved values of the options the run uses — its model, norm, data set,
optimizer, trainer and probes, each with its own schema's keys only — plus batch size, seed, determinism
and the identity version. So adding a field to another option, or a new option, changes no existing hash;
changing a value the run uses does. Fields marked `execution_only` (where the cache lives, checkpoint
cadence) are left out; fields marked `added_field` (added after version 2) are left out while they hold
the value runs written before them had (their `legacy` value, else their default), so adding one leaves
every run already on disk where it was. A data set read from the
user's files adds `fingerprint` to its section (`DataConfig.fingerprint()`: a digest of the files'
contents), so an edited file is never taken for a run already finished; the built-in data sets have none.
"""

import dataclasses
import json
import re
from enum import Enum

from omegaconf import DictConfig, OmegaConf

from normbench.config.options import EXECUTION_ONLY, IDENTITY, LEGACY, UNLESS_DEFAULT, legacy_value
from normbench.rundir.contract import (
    HPARAM_KEYS,
    IDENTITY_VERSION,
    digest,
    hashes,
    layer_norms_name,
    model_label,
    norm_label,
    optimizer_label,
)

IDENTITY_SECTIONS = ("model", "norm", "data", "optim", "trainer", "probe")
IDENTITY_SETTINGS = ("batch_size", "seed", "deterministic")

# Overrides already spelled out in the readable part of a run's name, or not part of its identity.
_NAMED_KEYS = {"model", "model.name", "model.cell", "model.layer_norms", "norm", "norm.name", "data", "data.name",
               "batch_size", "optim", "optim.name", "optim.lr", "seed", "experiment", "launcher", "user_dir",
               "progress", "results_dir", "force", "device", "num_threads", "trainer.checkpoint_interval",
               "trainer.compile", "trainer.cuda_graphs", "data.cache_dir", "data.max_device_bytes",
               "data.loader_workers", "objective", "objective_direction"}
# How a run is shown (logger=mlflow, logger.tracking_uri=...) or launched (launcher.jobs_per_gpu=2): never in its name.
_UNNAMED_GROUPS = ("logger", "launcher")
_MAX_NAME = 180


def identity_dict(cfg: DictConfig, with_defaults: bool = False) -> dict:
    """What the run computes, as plain JSON-able values (Enums as their names). `with_defaults` keeps the
    `added_field`s that hold their legacy value (left out of the hash, but still a value the run used)."""
    identity = {"identity_version": IDENTITY_VERSION}
    for section in IDENTITY_SECTIONS:
        identity[section] = _section_identity(cfg[section], with_defaults)
    fingerprint = _data_fingerprint(cfg.data)
    if fingerprint is not None:  # data read from files: its contents, not only its path (None: no key at all)
        identity["data"]["fingerprint"] = fingerprint
    for key in IDENTITY_SETTINGS:
        identity[key] = cfg[key]
    return identity


def _section_identity(node: DictConfig, with_defaults: bool = False) -> dict:
    values = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    schema = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(schema):
        return values
    for spec in dataclasses.fields(schema):
        marker = spec.metadata.get(IDENTITY)
        as_before = not with_defaults and marker == UNLESS_DEFAULT and values.get(spec.name) == _legacy(spec)
        if marker == EXECUTION_ONLY or as_before:
            values.pop(spec.name, None)
    return values


def _data_fingerprint(node: DictConfig) -> str | None:
    """`DataConfig.fingerprint()` of the data set's own schema (a ConfigError if its files cannot be read)."""
    if not dataclasses.is_dataclass(OmegaConf.get_type(node)):
        return None  # an untyped node (e.g. a hand-made config): no schema, no files to read
    return OmegaConf.to_object(node).fingerprint()


def _legacy(spec: dataclasses.Field):
    value = legacy_value(spec)
    return value.name if isinstance(value, Enum) else value  # as enum_to_str writes it


def as_written_before(cfg: DictConfig) -> tuple[DictConfig, dict[str, tuple]]:
    """`cfg` with every added field that declares a legacy value set to it, and the keys that changed (key: (the
    value in `cfg`, the legacy value)): the same configuration as runs written before those fields held it."""
    before, changed = cfg.copy(), {}
    for section in IDENTITY_SECTIONS:
        schema = OmegaConf.get_type(cfg[section])
        if not dataclasses.is_dataclass(schema):
            continue
        for spec in dataclasses.fields(schema):
            if LEGACY in spec.metadata and cfg[section][spec.name] != spec.metadata[LEGACY]:
                changed[f"{section}.{spec.name}"] = (cfg[section][spec.name], spec.metadata[LEGACY])
                before[section][spec.name] = spec.metadata[LEGACY]
    return before, changed


def config_hash(cfg: DictConfig) -> str:
    return hashes(identity_dict(cfg))[0]


def group_hash(cfg: DictConfig) -> str:
    """Identical for the seeds of one configuration: the only runs the report averages together."""
    return hashes(identity_dict(cfg))[1]


def identity_record(cfg: DictConfig) -> dict:
    """identity.json: the version, both hashes and the identity itself, readable without normbench's schemas."""
    identity = identity_dict(cfg)
    config, group = hashes(identity)
    return {"identity_version": IDENTITY_VERSION, "config_hash": config, "group_hash": group, "identity": identity}


# Identity keys that the contract's HPARAM_KEYS already show under their label (model, norm, data, optimizer, lr).
_LABELLED = {"model.name", "norm.name", "data.name", "optim.name", "optim.lr", "identity_version"}


def run_hparams(cfg: DictConfig) -> dict[str, bool | int | float | str]:
    """Every hyperparameter that identifies the run, flat, for TensorBoard's HParams view and the trackers:
    the contract's HPARAM_KEYS (the labels the report reads back from event files) and every key of the
    identity (`norm.groups`, `optim.weight_decay`, `trainer.max_steps`, `deterministic`, ...), added fields at
    their default included. Values are bools, numbers or strings (Enums by name, a list or null as JSON)."""
    labels = {"model": run_model_label(cfg), "norm": run_norm_label(cfg), "data": cfg.data.name,
              "batch_size": cfg.batch_size, "optimizer": run_optimizer_label(cfg), "lr": cfg.optim.lr, "seed": cfg.seed}
    values = {key: labels[key] for key in HPARAM_KEYS}
    for key, value in _flat(identity_dict(cfg, with_defaults=True)).items():
        if key not in _LABELLED and key not in values:
            values[key] = value if isinstance(value, bool | int | float | str) else json.dumps(value)
    return values


def _flat(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_model_label(cfg: DictConfig) -> str:
    model = OmegaConf.to_object(cfg.model)
    return model_label(model.name, model.variant())


def run_optimizer_label(cfg: DictConfig) -> str:
    optim = OmegaConf.to_object(cfg.optim)
    return optimizer_label(optim.name, optim.schedule.value, optim.warmup_steps)


def run_norm_label(cfg: DictConfig) -> str:
    """How summaries, hparams and the report name the run's norm: `batch` for a network with BN in every
    layer, whether selected as norm=batch or as model.layer_norms=[batch,batch]; `batch+layer` for a mix."""
    return norm_label(cfg.norm.name, OmegaConf.to_object(cfg.model).layer_norm_names())


def _run_name_norm(cfg: DictConfig) -> str:
    """The norm part of a run's directory name: every layer spelled out (`batch+batch`), as names always
    read, so finished runs keep their directories and never share a name with norm=batch's runs."""
    return layer_norms_name(cfg.norm.name, OmegaConf.to_object(cfg.model).layer_norm_names())


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+_-]+", "-", text).strip("-")


def run_name(cfg: DictConfig, task_overrides=()) -> str:
    """e.g. `cnn_batch_mnist1d_bs100_adam-lr0.01_s0`, plus `key=value` for any other overridden setting."""
    parts = [run_model_label(cfg), _run_name_norm(cfg), cfg.data.name, f"bs{cfg.batch_size}",
             f"{cfg.optim.name}-lr{cfg.optim.lr:g}", f"s{cfg.seed}"]
    extras = {}  # by key, the last value winning as in Hydra, sorted so the order of overrides does not matter
    for override in task_overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key not in _NAMED_KEYS and not key.startswith("hydra") and key.split(".")[0] not in _UNNAMED_GROUPS:
            extras[key] = value
    parts += [_clean(f"{key.split('.')[-1]}={extras[key]}") for key in sorted(extras)]
    name = "_".join(parts)
    if len(name) > _MAX_NAME:  # keep it a legal file name; the hash keeps it unique
        name = f"{name[:_MAX_NAME - 13]}-{digest(name)}"
    return name
