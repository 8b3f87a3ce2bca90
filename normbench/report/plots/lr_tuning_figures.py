"""(h) Validation accuracy against learning rate per norm, and (i) the expected best validation accuracy after k
random trials (Dodge et al. 2019): a panel per comparison set that swept the learning rate, a line per norm."""

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from normbench.decide.stats import mean_ci
from normbench.report.plots.data import Drawn, PlotData, Skip
from normbench.report.plots.grid import Grid
from normbench.report.plots.labels import wrap

LR_TITLE = "Validation accuracy against learning rate, per norm"
TUNING_TITLE = "Expected best validation accuracy after k random trials"


def _swept(data: PlotData) -> list:
    return [rec for rec in data.recommendations if any(len(record.lrs) > 1 for record in rec.stability.values())]


def _split_title(title: str, recs: list) -> str:
    """The title names the split the figure's numbers come from: validation, or test for sets of old runs."""
    if all(rec.metrics.on_validation for rec in recs):
        return title
    return title.replace("Validation", "Test (old runs)" if not any(rec.metrics.on_validation for rec in recs)
                         else "Validation (test for old runs)")


def _panels(recs: list):
    """The figure's grid and, per comparison set, (its axes, the set), each titled by the set; axes in 8 pt."""
    grid = Grid(len(recs), 1, panel_w=5.0)

    def panels():
        for index, rec in enumerate(recs):
            ax = grid.axes(index)
            ax.set_title(wrap(rec.label, 60), fontsize=9)
            ax.tick_params(labelsize=8)
            yield ax, rec
    return grid, panels()


def _colour(data: PlotData, arm: str):
    return data.colours.get(arm.split(" #", 1)[0], "0.3")


def accuracy_vs_lr_per_norm(data: PlotData):
    recs = _swept(data)
    if not recs:
        return Skip(LR_TITLE, "no comparison set swept the learning rate")
    grid, panels = _panels(recs)
    for ax, rec in panels:
        for arm, record in rec.stability.items():
            colour = _colour(data, arm)
            intervals = [mean_ci(scores) for scores in record.seed_scores]
            low = np.clip([ci.low for ci in intervals], 0, 1) * 100  # an accuracy's band stays within 0–100%
            high = np.clip([ci.high for ci in intervals], 0, 1) * 100
            ax.plot(record.lrs, record.means * 100, marker="o", ms=4, color=colour, label=arm)
            ax.fill_between(record.lrs, low, high, color=colour, alpha=0.2, lw=0)
            diverged = record.diverged > 0
            ax.scatter(record.lrs[diverged], record.means[diverged] * 100, marker="x", s=60, color=colour, zorder=3)
            if np.isfinite(record.window.low):
                ax.axvspan(record.window.low, record.window.high, color=colour, alpha=0.08)
            best = record.lrs == record.window.best_lr
            ax.scatter(record.lrs[best], record.means[best] * 100, marker="*", s=140, color=colour, zorder=4)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)", fontsize=8)
        ax.set_ylabel(f"{rec.metrics.split} accuracy, diverged = 0 (%)", fontsize=8)
    handles = [Line2D([], [], color=_colour(data, arm), marker="o", label=arm) for arm in recs[0].stability]
    handles += [Line2D([], [], ls="", marker="x", color="0.3", label="some seeds\ndiverged"),
                Line2D([], [], ls="", marker="*", ms=10, color="0.3", label="chosen lr")]
    grid.legend_right(handles, "norm")
    grid.title(f"{_split_title(LR_TITLE, recs)}: mean over seeds, 95% band")
    caption = ("Band: 95% Student-t interval over seeds (diverged seeds count as 0%), clipped to 0–100%. ×: a seed "
               "diverged at that learning rate. ★: the learning rate each norm was compared at. Shaded span: its "
               "trainable LR window.")
    return Drawn("val_accuracy_vs_lr_per_norm", LR_TITLE, caption, grid.figure)


def expected_best_after_k(data: PlotData):
    recs = _swept(data)
    if not recs:
        return Skip(TUNING_TITLE, "no comparison set swept the learning rate")
    grid, panels = _panels(recs)
    for ax, rec in panels:
        for arm, record in rec.stability.items():
            k = np.arange(1, len(record.expected_best) + 1)
            ax.plot(k, record.expected_best * 100, marker="o", ms=4, color=_colour(data, arm), label=arm)
        ax.set_xlabel("k: learning rates tried at random from the grid", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"expected best {rec.metrics.split} accuracy (%)", fontsize=8)
    grid.legend_right([Line2D([], [], color=_colour(data, arm), marker="o", label=arm)
                       for arm in recs[0].stability], "norm")
    grid.title(_split_title(TUNING_TITLE, recs))
    caption = ("Dodge et al. 2019: E[max of k] = Σ v_i (F(v_i)^k − F(v_{i−1})^k) over the grid's per-learning-rate "
               "mean scores v_1 ≤ … ≤ v_n with empirical CDF F. A norm whose line starts high is cheap to tune.")
    return Drawn("expected_best_after_k", TUNING_TITLE, caption, grid.figure)
