"""(f) Final test accuracy as a heatmap, norm × batch size (or norm × model where no setting varies the batch
size), one colour scale for every panel."""

import numpy as np
import pandas as pd

from normbench.report.groups import series_along
from normbench.report.plots.data import Drawn, PlotData, Skip
from normbench.report.plots.grid import Grid
from normbench.report.plots.labels import panel_title, wrap

TITLE = "Final test accuracy heatmap"


def accuracy_heatmap(data: PlotData):
    found = _heatmap_series(data)
    if found is None:
        return Skip(TITLE, "needs at least two batch sizes or two models in one setting")
    column, series = found
    axis_name = "batch size" if column == "batch_size" else "model"
    grid = _heatmap_grid(series, column)
    # One scale for all panels, from every group's mean: equal colours mean equal accuracies across panels.
    means = data.groups["final_test_acc_mean"].to_numpy(dtype=float) * 100
    low, high = np.nanmin(means), np.nanmax(means)
    image = None
    for index, (values, rows, shown) in enumerate(series):
        ax = grid.axes(index)
        image = _heatmap_panel(ax, rows, column, low, high)
        ax.set_xlabel(axis_name, fontsize=8)
        ax.set_title(wrap(panel_title(data, values, shown), 40), fontsize=9)
    _colorbar(grid, image)
    grid.title(f"Final test accuracy (%), norm × {axis_name}: mean over seeds")
    return Drawn("heatmap_test_accuracy", f"Final test accuracy, norm × {axis_name}",
                 "Cell = mean final test accuracy (%) over the seeds of one configuration; – = not run or no "
                 "finished seed. One colour scale for all panels.", grid.figure)


def _heatmap_series(data: PlotData) -> tuple[str, list] | None:
    """(x column, its series): batch size where some setting runs two or more, else model; None if neither."""
    for column in ("batch_size", "model_label"):
        series = list(series_along(data.groups, column))
        if series:
            return column, series
    return None


def _heatmap_grid(series: list, column: str) -> Grid:
    """Every panel the size the largest table needs (per x value and per row), up to three panels a row."""
    ncols = min(3, len(series))
    rows_max = max(rows["variant"].nunique() for _, rows, _ in series)
    columns_max = max(rows[column].nunique() for _, rows, _ in series)
    return Grid(-(-len(series) // ncols), ncols, panel_w=max(2.6, 0.62 * columns_max + 0.4),
                panel_h=max(1.6, 0.32 * rows_max + 0.4), left=1.3, right=1.3, wgap=1.4, hgap=1.0, top=1.0)


def _colorbar(grid: Grid, image) -> None:
    """The shared colour scale, in the right margin at the full height of the panels."""
    colorbar_axes = grid.figure.add_axes([1 - (grid.right - 0.35) / grid.width, grid.bottom / grid.height,
                                          0.18 / grid.width, 1 - (grid.top + grid.bottom) / grid.height])
    grid.figure.colorbar(image, cax=colorbar_axes, label="final test accuracy (%)")


def _heatmap_panel(ax, rows: pd.DataFrame, column: str, low: float, high: float):
    variants = list(rows["variant"].unique())
    columns = sorted(rows[column].unique())
    table = rows.pivot_table(index="variant", columns=column, values="final_test_acc_mean", aggfunc="first")
    cells = table.reindex(index=variants, columns=columns).to_numpy(dtype=float) * 100
    image = ax.imshow(cells, cmap="viridis", vmin=low, vmax=high, aspect="auto")
    for (i, j), value in np.ndenumerate(cells):
        bright = not np.isnan(value) and value > low + 0.6 * (high - low)  # dark text on the light end
        ax.text(j, i, "–" if np.isnan(value) else f"{value:.1f}", ha="center", va="center", fontsize=8,
                color="black" if bright else "white")
    ax.set_xticks(range(len(columns)), [f"{value:g}" if column == "batch_size" else value for value in columns])
    ax.set_yticks(range(len(variants)), variants)
    ax.tick_params(labelsize=8)
    return image
