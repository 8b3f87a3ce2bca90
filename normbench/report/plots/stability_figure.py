"""(b) The stability metrics by norm: one point per run, a panel per (metric, model)."""

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from normbench.report.groups import SETTING, describe
from normbench.report.plots.data import Drawn, PlotData, Skip
from normbench.report.plots.grid import Grid
from normbench.report.plots.labels import wrap
from normbench.report.run_metrics import METRICS, STABILITY_FIGURE_METRICS
from normbench.report.style import SETTING_MARKERS, norm_order

SETTING_KEYS = [key for key in SETTING if key != "model_label"]  # models get a column of panels each


def stability_figure(data: PlotData):
    metrics = [column for column in STABILITY_FIGURE_METRICS if data.usable[column].notna().any()]
    if not metrics:
        return Skip("Stability metrics by norm", "no run has the curves the stability metrics need")
    models = sorted(data.usable["model_label"].unique())
    all_settings = sorted({tuple(row) for row in data.usable[SETTING_KEYS].itertuples(index=False)})
    marker_of = {setting: SETTING_MARKERS[i % len(SETTING_MARKERS)] for i, setting in enumerate(all_settings)}
    legend_cols = min(4, len(all_settings))
    legend_rows = -(-len(all_settings) // legend_cols) if len(all_settings) > 1 else 0  # none for one setting
    grid = Grid(len(metrics), len(models), panel_w=max(3.6, 0.7 * data.usable["norm"].nunique() + 1.0),
                panel_h=2.5, right=0.3, top=0.75, bottom=0.55 + (0.2 * legend_rows + 0.35 if legend_rows else 0),
                hgap=0.75)
    for column_index, model in enumerate(models):
        runs = data.usable[data.usable["model_label"] == model]
        for row_index, column in enumerate(metrics):
            ax = grid.axes(row_index * len(models) + column_index)
            _strip(ax, runs, norm_order(runs["norm"]), column, marker_of, data)
            ax.set_title(f"{model}: {METRICS[column].label}", fontsize=9)
    if legend_rows:  # marker shape = setting; say which
        grid.legend_below(_setting_handles(all_settings, marker_of), "marker = setting", legend_cols)
    grid.title("Stability metrics by norm: one point per run, black bar = mean over seeds of one setting")
    return Drawn("stability", "Stability metrics by norm",
                 "Each point is one run (colour = norm); within a norm, settings sit side by side (marker shape); "
                 "lower = more stable.", grid.figure)


def _setting_handles(all_settings: list[tuple], marker_of: dict) -> list:
    """A legend entry per setting, naming only the setting columns that vary."""
    shown = [key for key, *values in zip(SETTING_KEYS, *all_settings) if len(set(values)) > 1]
    return [Line2D([], [], ls="", marker=marker_of[setting], color="0.3",
                   label=describe(dict(zip(SETTING_KEYS, setting)), shown)) for setting in all_settings]


def _strip(ax, runs, norms, column: str, marker_of: dict, data: PlotData) -> None:
    """Points per run at x = norm position, settings dodged side by side within a norm."""
    metric = METRICS[column]
    points, mean_segments = _strip_points(runs, norms, column, marker_of, data)
    for marker, (x, y, colours) in points.items():  # one scatter call per marker shape
        ax.scatter(x, y, s=14, marker=marker, c=colours, alpha=0.75, lw=0)
    ax.add_collection(LineCollection(mean_segments, colors="black", linewidths=1.2))
    ax.set_xticks(range(len(norms)), norms, rotation=30 if len(norms) > 5 else 0, fontsize=8)
    ax.set_xlim(-0.6, len(norms) - 0.4)
    ax.set_ylabel(wrap(metric.axis_label, 30), fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.3, lw=0.5)


def _strip_points(runs, norms, column: str, marker_of: dict, data: PlotData) -> tuple[dict, list]:
    """(marker -> (x, y, colours) of the runs' points, the mean bar of each (norm, setting) cell)."""
    scale = METRICS[column].scale
    rng = np.random.default_rng(0)  # fixed jitter: the same report draws the same figure
    points, mean_segments = {}, []
    for position, norm in enumerate(norms):
        cells = runs[runs["norm"] == norm].groupby(SETTING_KEYS, sort=True, dropna=False)[column]
        width = 0.8 / max(cells.ngroups, 1)
        for offset, (key, values) in enumerate(cells):
            values = values.dropna().to_numpy() * scale
            if not len(values):
                continue
            centre = position - 0.4 + width * (offset + 0.5)
            x, y, colours = points.setdefault(marker_of[tuple(key)], ([], [], []))
            x.extend(centre + rng.uniform(-width / 4, width / 4, len(values)))
            y.extend(values)
            colours.extend([data.colours[norm]] * len(values))
            mean_segments.append([(centre - width / 2.5, values.mean()), (centre + width / 2.5, values.mean())])
    return points, mean_segments
