"""(g) Final test accuracy (diverged = 0) against learning rate, with and without warm-up: a panel per model
variant (a Transformer's norm position) and setting, colour = norm, solid = with warm-up, dashed = without.
The figure of claim 7 (Xiong et al. 2020: Post-LN needs warm-up, Pre-LN does not)."""

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from normbench.report.groups import describe
from normbench.report.plots.data import Drawn, PlotData, Skip
from normbench.report.plots.grid import Grid
from normbench.report.plots.labels import norm_handles, wrap
from normbench.report.run_metrics import METRICS
from normbench.rundir.contract import optimizer_name

TITLE = "Final test accuracy against learning rate, with and without warm-up"
METRIC = "final_test_acc_or_0"
PANEL = ("experiment", "model_label", "data", "batch_size", "optimizer_base", "lr_schedule")


def warmup_figure(data: PlotData):
    groups = _with_warmup(data)
    panels = [(key, rows) for key, rows in groups.groupby(list(PANEL), sort=True, dropna=False)
              if rows["warm"].nunique() == 2 and rows["lr"].nunique() >= 2]
    if not panels:
        return Skip(TITLE, "no setting has runs both with and without warm-up at two learning rates or more")
    ncols = min(2, len(panels))
    grid = Grid(-(-len(panels) // ncols), ncols, panel_w=3.8)
    metric = METRICS[METRIC]
    for index, (key, rows) in enumerate(panels):
        ax = grid.axes(index)
        for (norm, warm), points in rows.groupby(["norm", "warm"], sort=False):
            points = points.sort_values("lr")
            mean = points[f"{METRIC}_mean"].to_numpy() * metric.scale
            half = np.nan_to_num(points[f"{METRIC}_half"].to_numpy() * metric.scale)
            ax.errorbar(points["lr"], mean, yerr=half, color=data.colours[norm], lw=1.3, marker="o", ms=4,
                        capsize=2, linestyle="-" if warm else "--")
        ax.set_xscale("log")
        ax.set_xticks(sorted(rows["lr"].unique()), [f"{lr:g}" for lr in sorted(rows["lr"].unique())])
        ax.minorticks_off()
        ax.set_ylim(-2, 102)
        ax.set_xlabel("peak learning rate (log scale)", fontsize=8)
        ax.set_ylabel(wrap(metric.axis_label, 30), fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, lw=0.5)
        values = dict(zip(PANEL, key))
        shown = ["model_label", "data", "batch_size"] + (["experiment"] if data.experiment_varies else [])
        ax.set_title(wrap(f"{describe(values, shown)} · {values['optimizer_base']} {values['lr_schedule']}", 44),
                     fontsize=9)
    styles = [Line2D([], [], color="0.3", lw=1.4, linestyle="-", label="with warm-up"),
              Line2D([], [], color="0.3", lw=1.4, linestyle="--", label="without warm-up")]
    grid.legend_right(norm_handles(data, groups["norm"]) + styles, "norm / warm-up")
    grid.title(f"{TITLE}: mean over seeds, 95% CI")
    caption = ("Diverged runs count as 0% accuracy, as in claims 5 and 7. Solid: linear warm-up; dashed: none; the "
               "decay after it is the panel's. Error bars: 95% Student-t interval over seeds.")
    return Drawn("accuracy_vs_lr_warmup", TITLE, caption, grid.figure)


def _with_warmup(data: PlotData) -> pd.DataFrame:
    """The group table with each group's warm-up flag, optimizer name and decay (read from its runs)."""
    usable = data.usable
    per_group = pd.DataFrame({
        "group": usable["group"],
        "warm": pd.to_numeric(usable.get("warmup_steps", pd.Series(0, index=usable.index))).fillna(0) > 0,
        "lr_schedule": usable.get("lr_schedule", pd.Series("constant", index=usable.index)).fillna("constant"),
    }).drop_duplicates("group")
    groups = data.groups.merge(per_group, on="group", how="left")
    groups["optimizer_base"] = groups["optimizer"].map(optimizer_name)
    return groups
