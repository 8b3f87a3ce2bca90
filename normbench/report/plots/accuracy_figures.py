"""(c), (d) Final test accuracy against batch size and against learning rate: a panel per setting in which the
x variable takes two values or more, a line per norm (and per configuration of one norm)."""

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from normbench.report.groups import series_along
from normbench.report.plots.data import Drawn, PlotData, Skip
from normbench.report.plots.grid import Grid
from normbench.report.plots.labels import norm_handles, panel_title, wrap
from normbench.report.run_metrics import METRICS
from normbench.report.style import LINESTYLES


def accuracy_vs_batch_size(data: PlotData):
    return _accuracy_against(data, "batch_size", "final_test_acc", "accuracy_vs_batch_size",
                             "Final test accuracy against batch size", "batch size (log₂ scale)")


def accuracy_vs_lr(data: PlotData):
    return _accuracy_against(data, "lr", "final_test_acc_or_0", "accuracy_vs_lr",
                             "Final test accuracy against learning rate", "learning rate (log scale)")


def _accuracy_against(data: PlotData, column: str, metric_column: str, stem: str, title: str, xlabel: str):
    series = list(series_along(data.groups, column))
    if not series:
        what = "batch sizes" if column == "batch_size" else "learning rates"
        return Skip(title, f"fewer than two {what} in every setting")
    ncols = min(3, len(series))
    grid = Grid(-(-len(series) // ncols), ncols, panel_w=3.6)
    for index, (values, rows, shown) in enumerate(series):
        ax = grid.axes(index)
        for variant, points in rows.groupby("variant", sort=False):
            _accuracy_line(ax, data, rows, variant, points.sort_values(column), column, metric_column)
        _accuracy_axes(ax, rows, column, METRICS[metric_column], xlabel,
                       wrap(panel_title(data, values, shown), 48))
    # Learning rates push some seeds to diverge: a hollow ring marks those points, and the legend says so.
    extra = [Line2D([], [], ls="", marker="o", ms=9, markerfacecolor="none", color="0.3",
                    label="some seeds\ndiverged")] if column == "lr" else []
    grid.legend_right(norm_handles(data, data.groups["norm"]) + extra, "norm")
    grid.title(f"{title}: mean over seeds, 95% CI")
    caption = ("Error bars: 95% Student-t interval over seeds (none for n=1); n=k marks points with fewer seeds "
               "than runs. " + ("Diverged runs count as 0% accuracy, as in claim 5." if column == "lr" else ""))
    return Drawn(stem, title, caption.strip(), grid.figure)


def _accuracy_axes(ax, rows: pd.DataFrame, column: str, metric, xlabel: str, title: str) -> None:
    """A log x axis ticked at exactly the values run, the labels, and the y range of an accuracy."""
    ax.set_xscale("log", base=2 if column == "batch_size" else 10)
    ax.margins(x=0.1)  # room for the n=k labels of the outermost points
    ticks = sorted(rows[column].unique())
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.tick_params(labelsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(wrap(metric.axis_label, 30), fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, lw=0.5)
    if metric.scale == 100:  # an accuracy: intervals past 0% or 100% are cut at the axis, not the data
        low, high = ax.get_ylim()
        ax.set_ylim(max(low, -2), min(high, 102))


def _accuracy_line(ax, data: PlotData, rows, variant: str, points: pd.DataFrame, column: str, metric_column: str):
    """One variant's means with error bars; rings where seeds diverged (lr), n=k where seeds are missing."""
    metric = METRICS[metric_column]
    norm = points["norm"].iloc[0]
    same_norm = sorted(rows.loc[rows["norm"] == norm, "variant"].unique())  # "batch", "batch #1a2b3c"
    colour = data.colours[norm]
    x = points[column].to_numpy(dtype=float)
    mean = points[f"{metric_column}_mean"].to_numpy() * metric.scale
    half = points[f"{metric_column}_half"].to_numpy() * metric.scale
    linestyle = LINESTYLES[same_norm.index(variant) % len(LINESTYLES)]
    ax.plot(x, mean, marker="o", ms=4, lw=1.3, color=colour, linestyle=linestyle)
    bars = np.isfinite(half) & (half > 0)  # error bars as one collection: errorbar() builds many artists
    ax.add_collection(LineCollection([[(xi, m - h), (xi, m + h)] for xi, m, h in zip(x[bars], mean[bars], half[bars])],
                                     colors=colour, linewidths=1.0))
    if column == "lr":  # hollow ring = some seeds diverged (scored 0)
        diverged = points["n_diverged"].to_numpy() > 0
        ax.scatter(x[diverged], mean[diverged], s=80, facecolors="none", edgecolors=colour, lw=1.2)
    for x_value, y_value, n, runs in zip(x, mean, points[f"{metric_column}_n"], points["n_runs"]):
        if n < runs:
            ax.annotate(f"n={n}", (x_value, y_value), fontsize=7, xytext=(4, -9), textcoords="offset points")
