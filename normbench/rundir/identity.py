"""A run's identity: a readable name built from what varies, and hashes of its resolved config.

Never a timestamp: the same configuration always maps to the same directory, which is what lets a
sweep skip finished runs and refuse to mix runs of different configurations under one name.
"""

import hashlib
import json
import re

from omegaconf import DictConfig, OmegaConf

from normbench.config.schema import NON_IDENTITY_KEYS

# Nested settings that, like NON_IDENTITY_KEYS, change how a run is carried out, not what it computes:
# checkpoints only make a run resumable (the SLURM presets switch them on), so they must not split its identity.
EXECUTION_ONLY_KEYS = ("trainer.checkpoint_interval",)
# Overrides already spelled out in the readable part of the name, or not part of a run's identity.
_NAMED_KEYS = {"model", "model.name", "model.cell", "model.layer_norms", "norm", "norm.name", "data", "data.name",
               "batch_size", "optim", "optim.name", "optim.lr", "seed", "experiment", "launcher",
               *NON_IDENTITY_KEYS, *EXECUTION_ONLY_KEYS}
_MAX_NAME = 180


def identity_dict(cfg: DictConfig) -> dict:
    """The resolved config minus Hydra's node and the settings that do not change what a run computes."""
    data = OmegaConf.to_container(cfg, resolve=True)
    data.pop("hydra", None)
    for key in NON_IDENTITY_KEYS:
        data.pop(key, None)
    for dotted in EXECUTION_ONLY_KEYS:
        group, _, key = dotted.partition(".")
        data.get(group, {}).pop(key, None)
    return data


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def config_hash(cfg: DictConfig) -> str:
    return _digest(identity_dict(cfg))


def group_hash(cfg: DictConfig) -> str:
    """Identical for the seeds of one configuration: the only runs the report averages together."""
    data = identity_dict(cfg)
    data.pop("seed", None)
    return _digest(data)


def norm_label(cfg: DictConfig) -> str:
    layer_norms = cfg.model.get("layer_norms")
    return "+".join(layer_norms) if layer_norms else cfg.norm.name


def model_label(cfg: DictConfig) -> str:
    return f"{cfg.model.name}-{cfg.model.cell}" if cfg.model.name == "rnn" else cfg.model.name


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+_-]+", "-", text).strip("-")


def run_name(cfg: DictConfig, task_overrides=()) -> str:
    """e.g. `cnn_batch_mnist1d_bs100_adam-lr0.01_s0`, plus `key=value` for any other overridden setting."""
    parts = [model_label(cfg), norm_label(cfg), cfg.data.name, f"bs{cfg.batch_size}",
             f"{cfg.optim.name}-lr{cfg.optim.lr:g}", f"s{cfg.seed}"]
    extras = {}  # by key, the last value winning as in Hydra, sorted so the order of overrides does not matter
    for override in task_overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key not in _NAMED_KEYS and not key.startswith("hydra"):
            extras[key] = value
    parts += [_clean(f"{key.split('.')[-1]}={extras[key]}") for key in sorted(extras)]
    name = "_".join(parts)
    if len(name) > _MAX_NAME:  # keep it a legal file name; the hash keeps it unique
        name = f"{name[:_MAX_NAME - 13]}-{_digest(name)}"
    return name
