"""The report's figures. Each builder returns the figures it can draw, or a `Skip` saying why its data is
absent: a figure is never drawn empty. Figures are plain matplotlib `Figure`s on an Agg canvas (no pyplot,
no global backend switch).

Curves are means over the seeds of one group, aligned on a common step grid (stats.align_curves), with a
95% Student-t band; EMA smoothing (TensorBoard's) touches the drawn train-loss curves only, never a number.

Layout is fixed in inches (margins, panel size, gaps) rather than matplotlib's constrained layout, which
measures every text box and doubles the drawing time of a many-panel figure.
"""

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from normbench.report.groups import SETTING, describe, series_along
from normbench.report.run_metrics import METRICS, PROBES, STABILITY_FIGURE_METRICS
from normbench.report.stats import align_curves, ema, mean_band
from normbench.report.style import LINESTYLES, SETTING_MARKERS, norm_order
from normbench.rundir import contract

MAX_POINTS = 400  # points drawn per curve (display only; every number uses all points)
ROWS_PER_FIGURE = 8  # rows of curve panels per figure before it is split in parts
PANEL = ("experiment", "model_label", "data", "batch_size")  # one panel of curves each
LINE = ("optimizer", "lr")  # told apart by line style inside a panel
PANEL_W, PANEL_H = 4.2, 2.8  # inches
LEGEND_W = 1.9  # inches kept free on the right for the figure legend


@dataclass
class PlotData:
    usable: pd.DataFrame  # usable runs with their metric columns, `group` and `variant`
    groups: pd.DataFrame  # groups.group_table
    curves: dict  # run_id -> {"split/metric": (steps, values)}
    colours: dict  # norm -> colour, one map for the whole report
    smooth: float = 0.0  # TensorBoard smoothing weight for the drawn train-loss curves

    def __post_init__(self):
        self.run_ids = self.usable.groupby("group")["run_id"].agg(list).to_dict()
        # Sorted once in reading order (norms in their fixed order, then lr, variant): every selection of
        # rows below keeps this order, so curves and legends list norms the same way everywhere.
        rank = {norm: index for index, norm in enumerate(norm_order(self.groups["norm"]))}
        self.groups = (self.groups.assign(_norm_rank=self.groups["norm"].map(rank))
                       .sort_values(["_norm_rank", "optimizer", "lr", "variant"], kind="stable"))

    @property
    def experiment_varies(self) -> bool:
        return self.usable["experiment"].nunique() > 1


@dataclass
class Drawn:
    stem: str  # file name without extension
    title: str
    caption: str
    figure: Figure


@dataclass
class Skip:
    title: str
    reason: str


def all_figures(data: PlotData) -> list:
    """Every figure of the report, in reading order: Drawn figures and Skips."""
    items = []
    for builder in (loss_curve_figures, stability_figure, accuracy_vs_batch_size, accuracy_vs_lr, probe_figures,
                    accuracy_heatmap):
        result = builder(data)
        items.extend(result if isinstance(result, list) else [result])
    return items


# --- layout ------------------------------------------------------------------------------------------

class Grid:
    """A figure of nrows × ncols panels of a fixed size in inches, with fixed margins and gaps."""

    def __init__(self, nrows: int, ncols: int, panel_w: float = PANEL_W, panel_h: float = PANEL_H, *,
                 left: float = 1.0, right: float = LEGEND_W, top: float = 1.0, bottom: float = 0.6,
                 wgap: float = 1.0, hgap: float = 1.05):
        self.width = left + ncols * panel_w + (ncols - 1) * wgap + right
        self.height = top + nrows * panel_h + (nrows - 1) * hgap + bottom
        self.right, self.top, self.bottom = right, top, bottom
        self.figure = Figure(figsize=(self.width, self.height), dpi=100)
        FigureCanvasAgg(self.figure)  # Agg, without switching the process's pyplot backend
        self.spec = self.figure.add_gridspec(nrows, ncols, left=left / self.width, right=1 - right / self.width,
                                             top=1 - top / self.height, bottom=bottom / self.height,
                                             wspace=wgap / panel_w, hspace=hgap / panel_h)
        self.ncols = ncols

    def axes(self, index: int):
        return self.figure.add_subplot(self.spec[divmod(index, self.ncols)])

    def title(self, text: str) -> None:
        self.figure.suptitle(text, fontsize=12, y=1 - 0.3 / self.height, va="center")

    def legend_right(self, handles, title: str) -> None:
        corner = (1 - (self.right - 0.15) / self.width, 1 - self.top / self.height)  # top of the right margin
        self.figure.legend(handles=handles, loc="upper left", fontsize=8, title=title, title_fontsize=8,
                           frameon=False, bbox_to_anchor=corner)

    def legend_below(self, handles, title: str, ncols: int) -> None:
        self.figure.legend(handles=handles, loc="lower center", fontsize=7, title=title, title_fontsize=7,
                           frameon=False, ncols=ncols, bbox_to_anchor=(0.5, 0.1 / self.height))


# --- shared helpers ----------------------------------------------------------------------------------

def _panel_title(data: PlotData, values: dict, shown) -> str:
    """The setting in words; the experiment only when the report spans several."""
    return describe(values, [column for column in shown if column != "experiment" or data.experiment_varies])


def _norm_handles(data: PlotData, norms) -> list:
    return [Line2D([], [], color=data.colours[norm], lw=2.5, label=norm) for norm in norm_order(norms)]


def _line_styles(groups: pd.DataFrame) -> tuple[dict, list]:
    """Within a figure, colour = norm and line style = what else differs between curves of one panel
    (optimizer, learning rate, or another configuration of the norm): group -> style, legend handles."""
    shown = [column for column in LINE if groups[column].nunique() > 1]
    labels = {}
    for row in groups.itertuples(index=False):
        suffix = row.variant[len(row.norm):].strip()  # "#hash" for a second configuration of a norm
        labels[row.group] = " ".join(part for part in (describe(row._asdict(), shown), suffix) if part)
    # The plain case (nothing else differs) draws solid and is listed first; it needs a name too.
    plain = "single config."
    labels = {group: label or plain for group, label in labels.items()}
    distinct = sorted(set(labels.values()), key=lambda label: (label != plain, label))
    styles = {label: {"linestyle": LINESTYLES[i % len(LINESTYLES)],
                      "marker": None if i < len(LINESTYLES) else SETTING_MARKERS[i // len(LINESTYLES) - 1],
                      "markevery": 0.1}
              for i, label in enumerate(distinct)}
    handles = [Line2D([], [], color="0.3", lw=1.4, label=label, **styles[label]) for label in distinct
               ] if len(distinct) > 1 else []
    return {group: styles[label] for group, label in labels.items()}, handles


def _decimate(length: int) -> np.ndarray:
    if length <= MAX_POINTS:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, MAX_POINTS).round().astype(int))


def _band(data: PlotData, group: str, key: str, smooth: float = 0.0, log: bool = False):
    """Mean band over the group's seeds for one curve, or None when no seed logged it. On a log axis the
    band is computed on log values (a geometric mean with a multiplicative interval): an arithmetic
    interval there can reach 0 or below and would plunge off the panel."""
    curves = [data.curves[run_id][key] for run_id in data.run_ids.get(group, ()) if key in data.curves[run_id]]
    curves = [(steps, ema(values, smooth)) for steps, values in curves if len(steps)]
    if not curves:
        return None
    grid, matrix = align_curves(curves)
    if not log:
        return mean_band(grid, matrix)
    with np.errstate(divide="ignore", invalid="ignore"):
        band = mean_band(grid, np.log(np.where(matrix > 0, matrix, np.nan)))
    return type(band)(band.steps, np.exp(band.mean), np.exp(band.low), np.exp(band.high), band.n)


def _draw_band(ax, band, colour: str, style: dict) -> list:
    """The mean line (drawn) and the interval's polygons (returned: a panel adds all of them at once)."""
    keep = _decimate(len(band.steps))
    steps, mean = band.steps[keep], band.mean[keep]
    ax.plot(steps, mean, color=colour, lw=1.3, ms=4, **style)
    for index in np.flatnonzero(np.diff(band.n) < 0)[:3]:  # where seeds stop (diverged or shorter runs)
        ax.annotate(f"n={band.n[index + 1]}", (band.steps[index + 1], band.mean[index + 1]), fontsize=7,
                    color=colour, xytext=(2, 5), textcoords="offset points")
    return _band_polygons(steps, band.low[keep], band.high[keep])


def _band_polygons(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> list:
    """The interval as one polygon per stretch where it exists (two or more seeds): what fill_between
    draws, built directly since fill_between's general machinery costs more than the rest of a panel."""
    exists = np.isfinite(low) & np.isfinite(high)
    edges = np.flatnonzero(np.diff(np.r_[0, exists.astype(np.int8), 0]))
    return [np.column_stack([np.r_[x[a:b], x[a:b][::-1]], np.r_[high[a:b], low[a:b][::-1]]])
            for a, b in zip(edges[::2], edges[1::2])]


def _seed_counts(bands) -> str:
    """`n=5 seeds/curve`, or `n=3–5 seeds/curve` when curves (or points of one) have different counts."""
    low = min(int(band.n.min()) for band in bands)
    high = max(int(band.n.max()) for band in bands)
    return f"n={high} seeds/curve" if low == high else f"n={low}–{high} seeds/curve"


def _log_ticks(ax, values) -> None:
    """Log y axis with a few labelled ticks at 1, 2, (3,) 5 × 10^k: matplotlib's automatic minor log
    ticks are slow to lay out and crowd small panels."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    if not len(values):
        return
    low, high = values.min(), values.max()
    candidates = _log_tick_candidates(low, high)
    below, above = max(t for t in candidates if t <= low), min(t for t in candidates if t >= high)
    narrow = sum(low <= tick <= high for tick in candidates) < 3
    # Widen to the next tick outside the data when it is close (or the range is too narrow for three
    # ticks), so both ends of the axis are labelled.
    low = below if narrow or low / below <= 1.35 else low
    high = above if narrow or above / high <= 1.35 else high
    ax.set_ylim(low / 1.1, high * 1.1)
    ax.yaxis.set_major_locator(FixedLocator([tick for tick in candidates if low <= tick <= high]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def _log_tick_candidates(low: float, high: float) -> list[float]:
    """Ticks s × 10^k: the sparsest set of s with 4+ ticks in [low, high], else 3+, else s = 1…9."""
    decades = range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)
    sets = [sorted(sub * 10.0**decade for decade in decades for sub in subs)
            for subs in ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9))]
    for needed in (4, 3):
        for ticks in sets[:-1]:
            if sum(low <= tick <= high for tick in ticks) >= needed:
                return ticks
    return sets[-1]


def _wrap(text: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _file_safe(text: str) -> str:
    return "".join(character if character.isalnum() or character in "-_." else "-" for character in str(text))


# --- (a) loss curves, (e) probes: curves over training ------------------------------------------------

def loss_curve_figures(data: PlotData):
    if not any("train/loss" in curves or "test/loss" in curves for curves in data.curves.values()):
        return Skip("Train and test loss curves", f"no usable run has loss curves ({contract.METRICS} or events)")
    smoothing = f" Train curves EMA-smoothed (weight {data.smooth:g}) for display only." if data.smooth else ""
    columns = [("train/loss", "train loss: cross-entropy", data.smooth, True),
               ("test/loss", "test loss: cross-entropy", 0.0, True)]
    caption = ("Geometric mean over seeds with 95% band (Student-t on log loss), log scale; colour = norm, line style = learning rate / "
               "optimizer where they vary; n=k marks where seeds stop (diverged)." + smoothing)
    return _curve_figures(data, data.groups, columns, "loss_curves", "Train and test loss", caption)


def probe_figures(data: PlotData):
    probes = [probe for probe in PROBES[:2] if data.usable[f"probe_{probe}"].notna().any()]
    if not probes:
        return Skip("Loss-landscape probes over training", "no run logged `probe` rows")
    with_probes = data.groups[data.groups[[f"probe_{probe}_n" for probe in probes]].sum(axis=1) > 0]
    columns = [(f"probe/{probe}", METRICS[f"probe_{probe}"].axis_label.replace(" (probe mean)", ""), 0.0, False)
               for probe in probes]
    caption = ("Santurkar et al. (2018) probes along the update direction, mean over seeds with 95% band; lower = "
               "smoother loss landscape.")
    return _curve_figures(data, with_probes, columns, "probes", "Loss-landscape probes", caption)


def _curve_figures(data: PlotData, groups: pd.DataFrame, columns, stem: str, title: str, caption: str) -> list:
    """One figure per model: a row per (data, batch size) panel, a column per curve; split in parts past
    ROWS_PER_FIGURE rows."""
    items = []
    for model, model_groups in groups.groupby("model_label", sort=True):
        panels = list(model_groups.groupby(list(PANEL), sort=True, dropna=False))
        parts = [panels[i:i + ROWS_PER_FIGURE] for i in range(0, len(panels), ROWS_PER_FIGURE)]
        styles, style_handles = _line_styles(model_groups)
        for part_index, part in enumerate(parts):
            grid = Grid(len(part), len(columns))
            for row, (key, rows) in enumerate(part):
                description = _panel_title(data, dict(zip(PANEL, key)), PANEL)
                for column, (curve, label, smooth, log) in enumerate(columns):
                    _curve_panel(grid.axes(row * len(columns) + column), data, rows, curve, label, smooth, log,
                                 styles, description)
            grid.legend_right(_norm_handles(data, model_groups["norm"]) + style_handles, "norm / line")
            part_note = f" (part {part_index + 1} of {len(parts)})" if len(parts) > 1 else ""
            grid.title(f"{title}, {model}: mean over seeds, 95% CI{part_note}")
            items.append(Drawn(f"{stem}_{_file_safe(model)}" + (f"_part{part_index + 1}" if len(parts) > 1 else ""),
                               f"{title}: {model}{part_note}", caption, grid.figure))
    return items


def _curve_panel(ax, data: PlotData, rows: pd.DataFrame, curve: str, label: str, smooth: float, log: bool,
                 styles: dict, description: str) -> None:
    bands, polygons, colours = [], [], []
    for group, norm in zip(rows["group"], rows["norm"]):
        band = _band(data, group, curve, smooth, log)
        if band is not None:
            drawn = _draw_band(ax, band, data.colours[norm], styles[group])
            polygons += drawn
            colours += [data.colours[norm]] * len(drawn)
            bands.append(band)
    if polygons:
        ax.add_collection(PolyCollection(polygons, facecolors=colours, alpha=0.15, linewidths=0))
    what = label.split(" (")[0].split(":")[0]
    ax.set_title(f"{what}, {_seed_counts(bands)}\n{description}" if bands else f"{what}\n{description}", fontsize=9)
    ax.set_xlabel("optimizer step", fontsize=8)
    ax.set_ylabel(_wrap(label + (" (log)" if log else ""), 32), fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3, lw=0.5)
    if not bands:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="0.4")
    elif log:
        _log_ticks(ax, np.concatenate([band.mean for band in bands]))


# --- (b) stability metrics by norm -------------------------------------------------------------------

def stability_figure(data: PlotData):
    metrics = [column for column in STABILITY_FIGURE_METRICS if data.usable[column].notna().any()]
    if not metrics:
        return Skip("Stability metrics by norm", "no run has the curves the stability metrics need")
    models = sorted(data.usable["model_label"].unique())
    setting_keys = [key for key in SETTING if key != "model_label"]
    all_settings = sorted({tuple(row) for row in data.usable[setting_keys].itertuples(index=False)})
    marker_of = {setting: SETTING_MARKERS[i % len(SETTING_MARKERS)] for i, setting in enumerate(all_settings)}
    legend_cols = min(4, len(all_settings))
    legend_rows = -(-len(all_settings) // legend_cols) if len(all_settings) > 1 else 0
    grid = Grid(len(metrics), len(models), panel_w=max(3.6, 0.7 * data.usable["norm"].nunique() + 1.0),
                panel_h=2.5, right=0.3, top=0.75, bottom=0.55 + (0.2 * legend_rows + 0.35 if legend_rows else 0),
                hgap=0.75)
    for column_index, model in enumerate(models):
        runs = data.usable[data.usable["model_label"] == model]
        for row_index, column in enumerate(metrics):
            ax = grid.axes(row_index * len(models) + column_index)
            _strip(ax, runs, norm_order(runs["norm"]), column, setting_keys, marker_of, data)
            ax.set_title(f"{model}: {METRICS[column].label}", fontsize=9)
    if legend_rows:  # marker shape = setting; say which
        shown = [key for key, *values in zip(setting_keys, *all_settings) if len(set(values)) > 1]
        handles = [Line2D([], [], ls="", marker=marker_of[setting], color="0.3",
                          label=describe(dict(zip(setting_keys, setting)), shown)) for setting in all_settings]
        grid.legend_below(handles, "marker = setting", legend_cols)
    grid.title("Stability metrics by norm: one point per run, black bar = mean over seeds of one setting")
    return Drawn("stability", "Stability metrics by norm",
                 "Each point is one run (colour = norm); within a norm, settings sit side by side (marker shape); "
                 "lower = more stable.", grid.figure)


def _strip(ax, runs, norms, column, setting_keys, marker_of, data) -> None:
    """Points per run at x = norm position, settings dodged side by side within a norm."""
    metric = METRICS[column]
    rng = np.random.default_rng(0)  # fixed jitter: the same report draws the same figure
    points = {}  # marker -> (x, y, colours): one scatter call per marker shape
    mean_segments = []
    for position, norm in enumerate(norms):
        cells = runs[runs["norm"] == norm].groupby(setting_keys, sort=True, dropna=False)[column]
        width = 0.8 / max(cells.ngroups, 1)
        for offset, (key, values) in enumerate(cells):
            values = values.dropna().to_numpy() * metric.scale
            if not len(values):
                continue
            centre = position - 0.4 + width * (offset + 0.5)
            x, y, colours = points.setdefault(marker_of[tuple(key)], ([], [], []))
            x.extend(centre + rng.uniform(-width / 4, width / 4, len(values)))
            y.extend(values)
            colours.extend([data.colours[norm]] * len(values))
            mean_segments.append([(centre - width / 2.5, values.mean()), (centre + width / 2.5, values.mean())])
    for marker, (x, y, colours) in points.items():
        ax.scatter(x, y, s=14, marker=marker, c=colours, alpha=0.75, lw=0)
    ax.add_collection(LineCollection(mean_segments, colors="black", linewidths=1.2))
    ax.set_xticks(range(len(norms)), norms, rotation=30 if len(norms) > 5 else 0, fontsize=8)
    ax.set_xlim(-0.6, len(norms) - 0.4)
    ax.set_ylabel(_wrap(metric.axis_label, 30), fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.3, lw=0.5)


# --- (c), (d) final accuracy against batch size / learning rate --------------------------------------

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
    metric = METRICS[metric_column]
    for index, (values, rows, shown) in enumerate(series):
        ax = grid.axes(index)
        for variant, points in rows.groupby("variant", sort=False):
            _accuracy_line(ax, data, rows, variant, points.sort_values(column), column, metric_column)
        ax.set_xscale("log", base=2 if column == "batch_size" else 10)
        ax.margins(x=0.1)  # room for the n=k labels of the outermost points
        ticks = sorted(rows[column].unique())
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.tick_params(labelsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(_wrap(metric.axis_label, 30), fontsize=8)
        ax.set_title(_wrap(_panel_title(data, values, shown), 48), fontsize=9)
        ax.grid(alpha=0.3, lw=0.5)
        if metric.scale == 100:  # an accuracy: intervals past 0% or 100% are cut at the axis, not the data
            low, high = ax.get_ylim()
            ax.set_ylim(max(low, -2), min(high, 102))
    extra = [Line2D([], [], ls="", marker="o", ms=9, markerfacecolor="none", color="0.3",
                    label="some seeds\ndiverged")] if column == "lr" else []
    grid.legend_right(_norm_handles(data, data.groups["norm"]) + extra, "norm")
    grid.title(f"{title}: mean over seeds, 95% CI")
    caption = ("Error bars: 95% Student-t interval over seeds (none for n=1); n=k marks points with fewer seeds "
               "than runs. " + ("Diverged runs count as 0% accuracy, as in claim 5." if column == "lr" else ""))
    return Drawn(stem, title, caption.strip(), grid.figure)


def _accuracy_line(ax, data: PlotData, rows, variant: str, points: pd.DataFrame, column: str, metric_column: str):
    metric = METRICS[metric_column]
    norm = points["norm"].iloc[0]
    same_norm = sorted(rows.loc[rows["norm"] == norm, "variant"].unique())  # "batch", "batch #1a2b3c"
    colour = data.colours[norm]
    x = points[column].to_numpy(dtype=float)
    mean = points[f"{metric_column}_mean"].to_numpy() * metric.scale
    half = points[f"{metric_column}_half"].to_numpy() * metric.scale
    ax.plot(x, mean, marker="o", ms=4, lw=1.3, color=colour, linestyle=LINESTYLES[same_norm.index(variant) % len(LINESTYLES)])
    bars = np.isfinite(half) & (half > 0)  # error bars as one collection: errorbar() builds many artists
    ax.add_collection(LineCollection([[(xi, m - h), (xi, m + h)] for xi, m, h in zip(x[bars], mean[bars], half[bars])],
                                     colors=colour, linewidths=1.0))
    if column == "lr":  # hollow ring = some seeds diverged (scored 0)
        diverged = points["n_diverged"].to_numpy() > 0
        ax.scatter(x[diverged], mean[diverged], s=80, facecolors="none", edgecolors=colour, lw=1.2)
    for x_value, y_value, n, runs in zip(x, mean, points[f"{metric_column}_n"], points["n_runs"]):
        if n < runs:
            ax.annotate(f"n={n}", (x_value, y_value), fontsize=7, xytext=(4, -9), textcoords="offset points")


# --- (f) heatmap -------------------------------------------------------------------------------------

def accuracy_heatmap(data: PlotData):
    title = "Final test accuracy heatmap"
    for column in ("batch_size", "model_label"):
        series = list(series_along(data.groups, column))
        if series:
            break
    else:
        return Skip(title, "needs at least two batch sizes or two models in one setting")
    axis_name = "batch size" if column == "batch_size" else "model"
    ncols = min(3, len(series))
    rows_max = max(rows["variant"].nunique() for _, rows, _ in series)
    columns_max = max(rows[column].nunique() for _, rows, _ in series)
    grid = Grid(-(-len(series) // ncols), ncols, panel_w=max(2.6, 0.62 * columns_max + 0.4),
                panel_h=max(1.6, 0.32 * rows_max + 0.4), left=1.3, right=1.3, wgap=1.4, hgap=1.0, top=1.0)
    means = data.groups["final_test_acc_mean"].to_numpy(dtype=float) * 100
    low, high = np.nanmin(means), np.nanmax(means)
    image = None
    for index, (values, rows, shown) in enumerate(series):
        ax = grid.axes(index)
        image = _heatmap_panel(ax, rows, column, low, high)
        ax.set_xlabel(axis_name, fontsize=8)
        ax.set_title(_wrap(_panel_title(data, values, shown), 40), fontsize=9)
    colorbar_axes = grid.figure.add_axes([1 - (grid.right - 0.35) / grid.width, grid.bottom / grid.height,
                                          0.18 / grid.width, 1 - (grid.top + grid.bottom) / grid.height])
    grid.figure.colorbar(image, cax=colorbar_axes, label="final test accuracy (%)")
    grid.title(f"Final test accuracy (%), norm × {axis_name}: mean over seeds")
    return Drawn("heatmap_test_accuracy", f"Final test accuracy, norm × {axis_name}",
                 "Cell = mean final test accuracy (%) over the seeds of one configuration; – = not run or no "
                 "finished seed. One colour scale for all panels.", grid.figure)


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
