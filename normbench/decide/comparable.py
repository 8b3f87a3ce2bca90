"""Comparison sets from the run identity: which runs may be ranked against each other.

Two runs are comparable only when their identities (identity.json's `identity`, flattened to dotted keys)
differ in nothing but the norm's own section (`norm.*`, `model.layer_norms`), the seed and the tuned optimizer
values (`optim.*` but the optimizer's name). Everything else that differs (`data.shape`, `model.hidden`,
`trainer.max_steps`, ...) makes a separate comparison set, named by what differs.

Columns added to a runs table (add_comparison_columns):
  context      the identity keys that are neither named by a column of their own (model, data, batch size,
               optimizer) nor norm-own, seed or tuned, as a readable label of the keys that differ between the
               runs of one (experiment, model, data): "" when nothing does, e.g. "data.shape=[28,28]"
  optim_rest   likewise for the tuned optimizer values other than the learning rate, warm-up and schedule
               (those three are columns already: `lr`, and the `optimizer` label)
  optimizer_base  the optimizer's registered name (`adam` of `adam warmup=100 cosine`)
  arm          the norm and its own settings: the thing a recommendation chooses between
"""

import json

import pandas as pd

from normbench.rundir.contract import digest, optimizer_name

NORM_OWN_PREFIXES = ("norm.",)  # the norm's own section of an identity
NORM_OWN_KEYS = ("model.layer_norms",)  # a per-layer mix of norms is the norm too (`batch+layer`)
SEED_KEYS = ("seed",)
TUNED_PREFIX = "optim."  # every optimizer value a sweep may tune ...
UNTUNED_OPTIM_KEYS = ("optim.name",)  # ... but which optimizer it is
# Identity keys the runs table already holds as columns of their own, so not repeated in `context`.
NAMED_KEYS = ("model.name", "data.name", "batch_size", "identity_version")
# Tuned keys shown by the `lr` and `optimizer` columns, so not repeated in `optim_rest`.
LABELLED_TUNED_KEYS = ("optim.lr", "optim.warmup_steps", "optim.schedule")

# A comparison set (one recommendation each) and a cell of it (one value of every tuned setting).
COMPARISON = ("experiment", "model_label", "data", "context", "batch_size", "optimizer_base")
CELL = ("experiment", "model_label", "data", "context", "batch_size", "optimizer", "optim_rest", "lr")


def flatten_identity(identity: dict, prefix: str = "") -> dict:
    """{"data": {"shape": [28, 28]}} -> {"data.shape": "[28,28]"}: every leaf as compact JSON text."""
    flat = {}
    for key, value in identity.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_identity(value, name + "."))
        else:
            flat[name] = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return flat


def is_norm_own(key: str) -> bool:
    return key.startswith(NORM_OWN_PREFIXES) or key in NORM_OWN_KEYS


def is_tuned(key: str) -> bool:
    return key.startswith(TUNED_PREFIX) and key not in UNTUNED_OPTIM_KEYS


def split_identity(flat: dict) -> tuple[dict, dict, dict]:
    """(context, tuned values, norm-own values) of a flattened identity; the seed and named keys are dropped."""
    context, tuned, own = {}, {}, {}
    for key, value in flat.items():
        if key in SEED_KEYS or key in NAMED_KEYS:
            continue
        if is_norm_own(key):
            own[key] = value
        elif is_tuned(key):
            tuned[key] = value
        else:
            context[key] = value
    return context, tuned, own


def distinguishing_labels(dicts: list[dict]) -> list[str]:
    """Each dict as `key=value · ...` over the keys whose values (or presence) differ among the dicts; "" for a
    dict with none. Two different dicts always get different labels: they differ in some key, which is shown."""
    keys = sorted({key for d in dicts for key in d})
    varying = [key for key in keys if len({d.get(key) for d in dicts}) > 1]
    return [" · ".join(f"{key}={d[key]}" for key in varying if key in d) for d in dicts]


def add_comparison_columns(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with context, optim_rest, optimizer_base, norm_config and arm (see the module's docstring). The
    `identity` column holds each run's flattened identity as JSON text (None for a run without identity.json:
    its context is then what its columns say, nothing more)."""
    runs = runs.copy()
    if runs.empty:
        for column in ("context", "optim_rest", "optimizer_base", "norm_config", "arm"):
            runs[column] = pd.Series(dtype=str)
        return runs
    identities = runs["identity"] if "identity" in runs else pd.Series(None, index=runs.index)
    parts = [split_identity(json.loads(text)) if isinstance(text, str) else ({}, {}, {}) for text in identities]
    contexts = [context for context, _, _ in parts]
    rests = [{key: value for key, value in tuned.items() if key not in LABELLED_TUNED_KEYS} for _, tuned, _ in parts]
    owns = [json.dumps(own, sort_keys=True) for _, _, own in parts]
    runs["optimizer_base"] = runs["optimizer"].map(optimizer_name)
    runs["context"], runs["optim_rest"], runs["norm_config"] = "", "", owns
    outer = ["experiment", "model_label", "data"]
    positions = {label: index for index, label in enumerate(runs.index)}
    for _, rows in runs.groupby(outer, dropna=False, sort=False):
        at = [positions[label] for label in rows.index]
        runs.loc[rows.index, "context"] = distinguishing_labels([contexts[i] for i in at])
        runs.loc[rows.index, "optim_rest"] = distinguishing_labels([rests[i] for i in at])
    runs["arm"] = arm_labels(runs)
    return runs


def arm_labels(runs: pd.DataFrame) -> pd.Series:
    """The norm, or `norm #abcdef` (a digest of its own settings) where one comparison set holds several settings
    of that norm (e.g. two BN momenta)."""
    configs = runs.groupby([*COMPARISON, "norm"], dropna=False)["norm_config"].transform("nunique")
    hashed = runs["norm"] + " #" + runs["norm_config"].map(lambda text: digest(text)[:6])
    return hashed.where(configs > 1, runs["norm"])


def comparison_sets(runs: pd.DataFrame):
    """(the set's COMPARISON values as a dict, its runs) for every comparison set, in a stable order."""
    for key, rows in runs.groupby(list(COMPARISON), sort=True, dropna=False):
        yield dict(zip(COMPARISON, key)), rows
