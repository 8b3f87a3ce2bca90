"""Settings, seed groups and their summaries.

A *setting* is a cell of a comparison set (decide.comparable): everything held fixed except the norm and the
seed, i.e. the comparison set (experiment, model, data, what else differs in the run identity, batch size,
optimizer) at one value of every tuned optimizer setting (learning rate, warm-up, ...). A *group* is the seeds
of one configuration (one group_hash): the only runs ever averaged. When one setting holds several
configurations of one norm (its own settings differ, or runs without identity.json differ in what the report
cannot see), each keeps its own row, labelled `norm #hash`.
"""

import numpy as np
import pandas as pd

from normbench.decide.comparable import CELL, add_comparison_columns
from normbench.decide.selection import add_scores
from normbench.decide.stats import LEVEL, t_half_width
from normbench.report import stability
from normbench.report.run_metrics import METRICS
from normbench.rundir.contract import DIVERGED, FINISHED

SETTING = CELL
GROUP = (*SETTING, "norm", "group_hash")


def usable_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that enter statistics, each labelled with its comparison set's columns (decide.comparable), its
    scores (decide.selection), its group and its variant (row label)."""
    usable = runs[runs["status"].isin(FINISHED)].copy()
    if usable.empty:
        return add_comparison_columns(usable).assign(group=pd.Series(dtype=str), variant=pd.Series(dtype=str))
    usable = add_scores(add_comparison_columns(usable))
    usable["group"] = usable[list(GROUP)].astype(str).agg("|".join, axis=1)
    variants = usable.groupby([*SETTING, "norm"], dropna=False)["group_hash"].transform("nunique")
    usable["variant"] = np.where(variants > 1, usable["norm"] + " #" + usable["group_hash"].str[:6], usable["norm"])
    return usable


def varying(frame: pd.DataFrame, columns=SETTING) -> list[str]:
    """The columns that take more than one value in `frame`."""
    return [column for column in columns if frame[column].nunique(dropna=False) > 1]


def describe(values: dict, columns) -> str:
    """e.g. `mlp · mnist1d · batch size 100 · adam lr=0.01` for the given setting columns."""
    parts = []
    for column in columns:
        value = values[column]
        if column == "batch_size":
            parts.append(f"batch size {value}")
        elif column == "lr":
            optimizer = f"{values['optimizer']} " if "optimizer" in columns else ""
            parts.append(f"{optimizer}lr={value:g}")
        elif column == "optimizer" and "lr" in columns:
            continue  # named with the learning rate: "adam lr=0.01"
        elif column == "experiment":
            parts.append(f"experiment {value}")
        elif column in ("context", "optim_rest", "optimizer_base"):
            if value != "" and not (column == "optimizer_base" and "optimizer" in columns):
                parts.append(str(value))
        else:
            parts.append(str(value))
    return " · ".join(parts)


def group_table(usable: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """One row per group: its setting, norm and variant, run counts, divergence, and for every metric the
    mean over seeds, the half-width of its Student-t interval and the number of seeds with a value."""
    metric_columns = [column for column in METRICS if column in usable.columns]
    grouped = usable.groupby("group", sort=False)
    table = grouped[[*GROUP, "variant"]].first()
    table["n_runs"] = grouped.size()
    table["n_diverged"] = grouped["status"].agg(lambda status: int((status == DIVERGED).sum()))
    table["divergence_share"] = grouped["status"].agg(lambda status: stability.divergence_share(status == DIVERGED))
    table["median_diverged_step"] = grouped["diverged_step"].agg(lambda steps: steps.dropna().median())
    table["seeds"] = grouped["seed"].agg(lambda seeds: ",".join(str(seed) for seed in sorted(seeds)))
    means, stds, counts = (grouped[metric_columns].mean(), grouped[metric_columns].std(ddof=1),
                           grouped[metric_columns].count())
    for column in metric_columns:
        table[f"{column}_mean"] = means[column]
        table[f"{column}_half"] = t_half_width(stds[column], counts[column], level)
        table[f"{column}_n"] = counts[column]
    dispersion = grouped["final_test_acc"].agg(lambda acc: stability.seed_dispersion(acc))
    table["seed_std_test_acc"] = dispersion.str[0]
    table["seed_range_test_acc"] = dispersion.str[1]
    table["rank"] = (table.groupby(list(SETTING), dropna=False)[f"{rank_metric(table)}_mean"]
                     .rank(ascending=False, method="min"))
    return table.reset_index().sort_values([*SETTING, "rank", "variant"], na_position="last", kind="stable")


def rank_metric(table: pd.DataFrame) -> str:
    """What the per-setting tables rank by: validation accuracy (diverged = 0), or test accuracy for old runs."""
    column = "final_val_acc_or_0_mean"
    return "final_val_acc_or_0" if column in table and table[column].notna().any() else "final_test_acc"


def settings(table: pd.DataFrame):
    """(setting values dict, that setting's group rows) in a stable order."""
    for key, rows in table.groupby(list(SETTING), sort=True, dropna=False):
        yield dict(zip(SETTING, key)), rows


def series_along(frame: pd.DataFrame, column: str):
    """Settings that differ only in `column` (at least two values of it), as (setting values, rows, the
    setting's columns). Along the batch size the learning rate may move with it, one rate per batch size
    (a scaling rule such as small_batch's lr = 0.1·B/32): the rate then belongs to each point, not to the
    series, and the series is named without it."""
    rest = [key for key in SETTING if key != column]
    if column != "batch_size":
        yield from _plain_series(frame, column, rest)
        return
    outer = [key for key in rest if key != "lr"]
    for key, rows in frame.groupby(outer, sort=True, dropna=False):
        lr_follows_batch = rows["lr"].nunique() > 1 and rows.groupby(column)["lr"].nunique().max() == 1
        if lr_follows_batch and rows[column].nunique() >= 2:
            yield dict(zip(outer, key)), rows, outer
        elif not lr_follows_batch:
            yield from _plain_series(rows, column, rest)


def _plain_series(frame: pd.DataFrame, column: str, rest: list):
    for key, rows in frame.groupby(rest, sort=True, dropna=False):
        if rows[column].nunique() >= 2:
            yield dict(zip(rest, key)), rows, rest
