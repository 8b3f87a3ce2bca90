"""The per-run metric columns: what each one is, its display unit, which way is better, and how a run's
curves and summary give its value (the formulas themselves live in `stability`)."""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from normbench.report import stability
from normbench.rundir.contract import DIVERGED

EARLY_FRACTION = 0.1  # "early in training" = at 10% of the step budget


@dataclass(frozen=True)
class Metric:
    column: str
    label: str  # table header
    axis_label: str  # figure axis, with its unit
    better: str  # "higher", "lower", "zero" (closer to 0 is better) or "" (no ranking)
    scale: float = 1.0  # display multiplier: accuracies are fractions, shown in %
    digits: int = 3
    # The values the metric can take: a displayed interval is clipped to them (a mean ± t·s/√n of accuracies
    # can reach past 100%; no accuracy can).
    low: float = 0.0
    high: float = math.inf
    per_run: bool = True  # a column of every run (False: a value of a norm's whole grid, e.g. its LR window)


METRICS = {metric.column: metric for metric in (
    Metric("final_test_acc", "final test acc (%)", "final test accuracy (%)", "higher", 100, 1, high=1.0),
    Metric("final_val_acc", "final val acc (%)", "final validation accuracy (%)", "higher", 100, 1, high=1.0),
    Metric("final_val_loss", "final val loss", "final validation loss (cross-entropy)", "lower"),
    Metric("final_test_loss", "final test loss", "final test loss (cross-entropy)", "lower"),
    Metric("final_val_acc_or_0", "val acc, diverged = 0 (%)", "final validation accuracy, diverged runs = 0 (%)",
           "higher", 100, 1, high=1.0),
    Metric("final_train_loss", "final train loss", "final train loss (cross-entropy)", "lower"),
    Metric("early_train_loss", "train loss at 10%", "train loss at 10% of the budget (cross-entropy)", "lower"),
    Metric("loss_volatility", "loss volatility", "loss volatility: std of Δ log(train loss), last half", "lower"),
    Metric("spike_rate", "spike rate (%)", "loss spikes (% of steps)", "lower", 100, 2),
    Metric("grad_norm_cv", "grad-norm CV", "gradient-norm coefficient of variation, last half", "lower"),
    Metric("gen_gap", "gen. gap (pp)", "generalisation gap: train − test accuracy (pp)", "zero", 100, 1,
           -1.0, 1.0),
    Metric("bn_eval_gap", "BN train/eval gap (pp)", "test acc, running − batch statistics (pp)", "zero", 100, 1,
           -1.0, 1.0),
    Metric("final_test_acc_or_0", "test acc, diverged = 0 (%)", "final test accuracy, diverged runs = 0 (%)",
           "higher", 100, 1, high=1.0),
    Metric("steps_per_s", "steps/s", "training speed (steps/s)", "higher"),
    Metric("lr_window_high", "LR window's upper edge (decades)", "largest trainable learning rate (log10)", "higher",
           low=-math.inf, per_run=False),
    Metric("probe_loss_variation", "probe: loss variation", "loss variation along the gradient (probe mean)",
           "lower"),
    Metric("probe_grad_predictiveness", "probe: grad. predictiveness",
           "gradient predictiveness: ‖Δ gradient‖ along the step (probe mean)", "lower"),
    Metric("probe_beta_smoothness", "probe: β-smoothness", "effective β-smoothness (probe mean)", "lower"),
)}

# Columns of the per-setting tables, in order (those with no value in any run are left out).
TABLE_METRICS = ("final_val_acc", "final_val_loss", "final_test_acc", "final_train_loss", "early_train_loss",
                 "loss_volatility", "spike_rate", "grad_norm_cv", "gen_gap", "bn_eval_gap", "probe_loss_variation")
STABILITY_FIGURE_METRICS = ("loss_volatility", "spike_rate", "grad_norm_cv")
PROBES = ("loss_variation", "grad_predictiveness", "beta_smoothness")

_EMPTY = (np.array([], dtype=np.int64), np.array([], dtype=np.float64))


def run_metrics(record, curves: dict, spike_k: float, spike_window: int) -> dict:
    """The derived metric columns of one usable run (NaN where the run lacks what a metric needs)."""
    loss_steps, loss = curves.get("train/loss", _EMPTY)
    budget = record["max_steps"] if pd.notna(record["max_steps"]) else record["steps"]
    budget = float(budget) if pd.notna(budget) else math.nan
    diverged = record["status"] == DIVERGED
    train_acc, test_acc = record["final_train_acc"], record["final_test_acc"]
    values = {
        "early_train_loss": stability.loss_at_fraction(loss_steps, loss, budget, EARLY_FRACTION),
        "loss_volatility": stability.loss_volatility(loss_steps, loss),
        "spike_rate": stability.spike_rate(loss, spike_k, spike_window),
        "grad_norm_cv": stability.grad_norm_variability(*curves.get("train/grad_norm", _EMPTY)),
        "gen_gap": (stability.generalisation_gap(train_acc, test_acc)
                    if pd.notna(train_acc) and pd.notna(test_acc) else math.nan),
        "bn_eval_gap": stability.train_eval_gap(*curves.get("test/acc", _EMPTY),
                                                *curves.get("test_batch_stats/acc", _EMPTY)),
        # A diverged run produced no usable model: it scores 0 rather than vanishing from the mean.
        "final_test_acc_or_0": 0.0 if diverged else test_acc,
        "final_val_acc_or_0": 0.0 if diverged else record.get("final_val_acc", math.nan),
    }
    for probe in PROBES:
        values[f"probe_{probe}"] = stability.mean_of(curves.get(f"probe/{probe}", _EMPTY)[1])
    return values


def add_run_metrics(runs: pd.DataFrame, curves_by_run: dict, spike_k: float, spike_window: int) -> pd.DataFrame:
    """`runs` with the derived metric columns (NaN for runs that stay out of statistics)."""
    needed = ["run_id", "status", "steps", "max_steps", "final_train_acc", "final_test_acc", "final_val_acc"]
    records = runs.loc[runs["run_id"].isin(curves_by_run.keys()), needed].to_dict("records")
    rows = {record["run_id"]: run_metrics(record, curves_by_run[record["run_id"]], spike_k, spike_window)
            for record in records}
    derived = pd.DataFrame.from_dict(rows, orient="index", dtype="float64")
    derived = derived.reindex(columns=[column for column, metric in METRICS.items()
                                       if metric.per_run and column not in runs.columns])
    return runs.join(derived, on="run_id")


def format_effect(estimate: float, low: float, high: float, column: str) -> str:
    metric = METRICS[column]
    unit = " pp" if metric.scale == 100 else ""
    if not np.isfinite(estimate):
        return "–"

    def signed(value: float) -> str:
        value *= metric.scale
        return f"{value:+.{metric.digits}f}" if metric.scale != 1 else f"{value:+.3g}"

    interval = f" [{signed(low)}, {signed(high)}]" if np.isfinite(low) else " (no interval)"
    return f"{signed(estimate)}{unit}{interval}"
