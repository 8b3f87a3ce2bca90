"""Curves over training: (a) train and test loss, (e) the loss-landscape probes. One figure per model, a row
of panels per (data, batch size), a column per curve."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.ticker import MaxNLocator

from normbench.report.plots.bands import band, draw_band, seed_counts
from normbench.report.plots.data import Drawn, PlotData, Skip
from normbench.report.plots.grid import Grid
from normbench.report.plots.labels import file_safe, line_styles, norm_handles, panel_title, wrap
from normbench.report.plots.log_axis import log_ticks
from normbench.report.run_metrics import METRICS, PROBES
from normbench.rundir.contract import METRICS as METRICS_FILE

ROWS_PER_FIGURE = 8  # rows of curve panels per figure before it is split in parts
PANEL = ("experiment", "model_label", "data", "batch_size")  # one panel of curves each


@dataclass(frozen=True)
class CurveColumn:
    """A column of panels: the curve ("split/metric"), its axis label, its display smoothing, log scale or not."""

    key: str
    label: str
    smooth: float = 0.0
    log: bool = False


def loss_curve_figures(data: PlotData):
    if not any("train/loss" in curves or "test/loss" in curves for curves in data.curves.values()):
        return Skip("Train and test loss curves", f"no usable run has loss curves ({METRICS_FILE} or events)")
    smoothing = f" Train curves EMA-smoothed (weight {data.smooth:g}) for display only." if data.smooth else ""
    columns = [CurveColumn("train/loss", "train loss: cross-entropy", data.smooth, log=True),
               CurveColumn("test/loss", "test loss: cross-entropy", 0.0, log=True)]
    caption = ("Geometric mean over seeds with 95% band (Student-t on log loss), log scale; colour = norm, "
               "line style = learning rate / optimizer where they vary; n=k marks where seeds stop (diverged)."
               + smoothing)
    return _curve_figures(data, data.groups, columns, "loss_curves", "Train and test loss", caption)


def probe_figures(data: PlotData):
    probes = [probe for probe in PROBES[:2] if data.usable[f"probe_{probe}"].notna().any()]
    if not probes:
        return Skip("Loss-landscape probes over training", "no run logged `probe` rows")
    with_probes = data.groups[data.groups[[f"probe_{probe}_n" for probe in probes]].sum(axis=1) > 0]
    columns = [CurveColumn(f"probe/{probe}", METRICS[f"probe_{probe}"].axis_label.replace(" (probe mean)", ""))
               for probe in probes]
    caption = ("Santurkar et al. (2018) probes along the update direction, mean over seeds with 95% band; lower = "
               "smoother loss landscape.")
    return _curve_figures(data, with_probes, columns, "probes", "Loss-landscape probes", caption)


def _curve_figures(data: PlotData, groups: pd.DataFrame, columns: list[CurveColumn], stem: str, title: str,
                   caption: str) -> list:
    """One figure per model: a row per (data, batch size) panel, a column per curve; split in parts past
    ROWS_PER_FIGURE rows, so a large sweep never makes one unreadably tall figure."""
    items = []
    for model, model_groups in groups.groupby("model_label", sort=True):
        panels = list(model_groups.groupby(list(PANEL), sort=True, dropna=False))
        parts = [panels[i:i + ROWS_PER_FIGURE] for i in range(0, len(panels), ROWS_PER_FIGURE)]
        styles, style_handles = line_styles(model_groups)  # one legend for all parts of a model's figure
        for part_index, part in enumerate(parts):
            grid = _curve_grid(data, part, columns, styles)
            grid.legend_right(norm_handles(data, model_groups["norm"]) + style_handles, "norm / line")
            part_note = f" (part {part_index + 1} of {len(parts)})" if len(parts) > 1 else ""
            part_suffix = f"_part{part_index + 1}" if len(parts) > 1 else ""
            grid.title(f"{title}, {model}: mean over seeds, 95% CI{part_note}")
            items.append(Drawn(f"{stem}_{file_safe(model)}{part_suffix}", f"{title}: {model}{part_note}", caption,
                               grid.figure))
    return items


def _curve_grid(data: PlotData, panels: list, columns: list[CurveColumn], styles: dict) -> Grid:
    """A row per panel key (experiment, model, data, batch size), a column per curve."""
    grid = Grid(len(panels), len(columns))
    for row, (key, rows) in enumerate(panels):
        description = panel_title(data, dict(zip(PANEL, key)), PANEL)
        for index, column in enumerate(columns):
            _curve_panel(grid.axes(row * len(columns) + index), data, rows, column, styles, description)
    return grid


def _curve_panel(ax, data: PlotData, rows: pd.DataFrame, column: CurveColumn, styles: dict,
                 description: str) -> None:
    bands = _draw_bands(ax, data, rows, column, styles)
    what = column.label.split(" (")[0].split(":")[0]
    ax.set_title(f"{what}, {seed_counts(bands)}\n{description}" if bands else f"{what}\n{description}", fontsize=9)
    ax.set_xlabel("optimizer step", fontsize=8)
    ax.set_ylabel(wrap(column.label + (" (log)" if column.log else ""), 32), fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3, lw=0.5)
    if not bands:  # a group that never logged this curve: say so rather than leave a blank panel
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="0.4")
    elif column.log:
        log_ticks(ax, np.concatenate([group_band.mean for group_band in bands]))


def _draw_bands(ax, data: PlotData, rows: pd.DataFrame, column: CurveColumn, styles: dict) -> list:
    """Each group's mean line, then every interval as one collection (far faster than one fill per band);
    returns the bands drawn."""
    bands, polygons, colours = [], [], []
    for group, norm in zip(rows["group"], rows["norm"]):
        group_band = band(data, group, column.key, column.smooth, column.log)
        if group_band is not None:
            drawn = draw_band(ax, group_band, data.colours[norm], styles[group])
            polygons += drawn
            colours += [data.colours[norm]] * len(drawn)
            bands.append(group_band)
    if polygons:
        ax.add_collection(PolyCollection(polygons, facecolors=colours, alpha=0.15, linewidths=0))
    return bands
