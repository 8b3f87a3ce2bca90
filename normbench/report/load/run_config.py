"""The configuration of a run with no summary.json, from its TensorBoard hparams or Hydra's job config, and the
hashes that group it with its seeds."""

import json
from pathlib import Path

from normbench.rundir.contract import (
    HPARAM_KEYS,
    NON_IDENTITY_KEYS,
    digest,
    hashes,
    layer_norms_name,
    optimizer_label,
)

# An event-only run's identity is its config minus the settings of how it was carried out, as the writer hashes
# it today (identity v1, NON_IDENTITY_KEYS of normbench/config/schema.py). The contract's NON_IDENTITY_KEYS (v2)
# also leaves out experiment and extra; dropping experiment here would make one configuration run in two
# experiments a duplicate, so both stay in until the writer and the duplicate rule move to v2 together.
_STILL_HASHED = ("experiment", "extra")
EXECUTION_KEYS = tuple(key for key in NON_IDENTITY_KEYS if key not in _STILL_HASHED)


def config_from_hparams(hparams: dict) -> dict | None:
    """The hparams the trainer logs (HPARAM_KEYS), typed; None if one is missing or not a number where one is due."""
    if any(hparams.get(key) is None for key in HPARAM_KEYS):
        return None
    try:
        return {**hparams, "batch_size": int(hparams["batch_size"]), "seed": int(hparams["seed"]),
                "lr": float(hparams["lr"]), "model": str(hparams["model"]), "norm": str(hparams["norm"])}
    except (TypeError, ValueError):
        return None


def config_from_hydra(path: Path) -> dict | None:
    """model.name, norm.name, data.name, batch_size, seed, optim.name, optim.lr of Hydra's job config, and a
    digest of the rest of it; None if the file is missing, unreadable or lacks one of them."""
    import yaml

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        columns = _hydra_columns(config)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return {**{key: value for key, value in columns.items() if value is not None}, "config_rest": _rest_digest(config)}


def _hydra_columns(config: dict) -> dict:
    model = config["model"]
    layer_norms = model.get("layer_norms")
    # The norm's name is only looked up when the model has no norm per layer. Spelled per layer as written
    # (the hashes below are of this config); the runs table reads it as the comparison label.
    norm = layer_norms_name(None if layer_norms else config["norm"]["name"], layer_norms)
    return {
        "experiment": config.get("experiment"),
        "model": model["name"],
        "model_cell": model.get("cell") if model["name"] == "rnn" else None,
        "norm": norm,
        "data": config["data"]["name"],
        "batch_size": int(config["batch_size"]),
        "seed": int(config["seed"]),
        "optimizer": optimizer_label(config["optim"]["name"], config["optim"].get("schedule", "constant"),
                                     config["optim"].get("warmup_steps", 0)),
        "lr": float(config["optim"]["lr"]),
    }


def _rest_digest(config: dict) -> str:
    """Everything else in the config (widths, budgets, ...) also separates configurations: one hash of it."""
    rest = {key: json.dumps(value, sort_keys=True, default=str) for key, value in config.items()
            if key not in ("seed", "batch_size", "experiment", *EXECUTION_KEYS)}
    return digest(rest)


def identity_hashes(config: dict) -> tuple[str, str]:
    """(config_hash, group_hash) of an event-only run. They hash the reader's flat config, not the trainer's
    identity, so `tb-` keeps them apart from any hash a trainer wrote."""
    identity = {key: value for key, value in config.items() if key not in EXECUTION_KEYS}
    config_hash, group_hash = hashes(identity)
    return "tb-" + config_hash, "tb-" + group_hash
