"""The report's figures. Each builder returns the figures it can draw, or a `Skip` saying why its data is
absent: a figure is never drawn empty. Figures are plain matplotlib `Figure`s on an Agg canvas (no pyplot,
no global backend switch).

Modules:
  data              PlotData (what every figure is drawn from), Drawn and Skip (what a builder returns)
  grid              a figure as a grid of panels laid out in inches
  labels            panel titles, legend entries, colour = norm and line style = the rest
  log_axis          a log y axis with a few labelled ticks
  bands             a group's mean curve over seeds with its 95% band
  curve_figures     (a) train/test loss and (e) probe curves over training
  stability_figure  (b) stability metrics by norm, one point per run
  accuracy_figures  (c), (d) final test accuracy against batch size and learning rate
  heatmap           (f) final test accuracy, norm × batch size (or model)
  warmup_figure     (g) final test accuracy against learning rate, with and without warm-up (claim 7)
  lr_tuning_figures (h) validation accuracy against learning rate per norm, (i) expected best after k trials
"""

from normbench.report.plots.accuracy_figures import accuracy_vs_batch_size, accuracy_vs_lr
from normbench.report.plots.curve_figures import loss_curve_figures, probe_figures
from normbench.report.plots.data import Drawn, PlotData, Skip
from normbench.report.plots.heatmap import accuracy_heatmap
from normbench.report.plots.lr_tuning_figures import accuracy_vs_lr_per_norm, expected_best_after_k
from normbench.report.plots.stability_figure import stability_figure
from normbench.report.plots.warmup_figure import warmup_figure

__all__ = ["Drawn", "PlotData", "Skip", "all_figures"]

# The report's reading order.
BUILDERS = (accuracy_vs_lr_per_norm, expected_best_after_k, loss_curve_figures, stability_figure,
            accuracy_vs_batch_size, accuracy_vs_lr, probe_figures, accuracy_heatmap, warmup_figure)


def all_figures(data: PlotData) -> list:
    """Every figure of the report, in reading order: Drawn figures and Skips."""
    items = []
    for builder in BUILDERS:
        result = builder(data)
        items.extend(result if isinstance(result, list) else [result])
    return items
