"""Which norm to use, per comparison set: the report's side of decide.recommend (the rule itself, with its
docstring), i.e. the sets named in words, and recommendations.csv with the per-norm choices.

Deciding columns are validation ones (`val_*`); test columns (`test_*`) are shown for what was chosen and never
decide. A set of old runs (no validation metric) is decided on test metrics, and its `note` says so.
"""

import math

import numpy as np
import pandas as pd

from normbench.decide.comparable import COMPARISON
from normbench.decide.equivalence import EQUIVALENCE_MARGIN
from normbench.decide.recommend import (  # noqa: F401  (the rule's names, re-exported for the report)
    CLEAR,
    NO_DATA,
    TIED,
    UNDECIDED,
    Candidate,
    Recommendation,
    distinguishable,
    recommend,
    recommend_all,
)
from normbench.decide.stats import LEVEL, mean_ci
from normbench.decide.window import WINDOW_TOLERANCE
from normbench.report.groups import describe

TEST_SCORE = "final_test_acc_or_0"  # shown for the chosen norms, never deciding


def set_label(values: dict, rows: pd.DataFrame, usable: pd.DataFrame) -> str:
    """A comparison set in words: `mlp · mnist1d · data.shape=[28,28] · batch size 100 · adam lr=0.01` when it ran
    one learning rate (as a setting always read), `... · adam, lr tuned per norm (4 values)` when it swept them."""
    shown = [column for column in COMPARISON if column != "experiment" or usable["experiment"].nunique() > 1]
    lrs, optimizers = rows["lr"].nunique(), rows["optimizer"].unique()
    if lrs == 1 and len(optimizers) == 1 and rows["optim_rest"].nunique() == 1:
        first = rows.iloc[0]
        return describe({**values, "optimizer": first["optimizer"], "optim_rest": first["optim_rest"],
                         "lr": first["lr"]}, [*shown[:-1], "optimizer", "optim_rest", "lr"])
    tuned = f"lr tuned per norm ({lrs} values)" if lrs > 1 else "tuned per norm"
    return f"{describe(values, shown)}, {tuned}"


def recommendations(groups: pd.DataFrame, usable: pd.DataFrame, level: float = LEVEL,
                    margin: float = EQUIVALENCE_MARGIN, tolerance: float = WINDOW_TOLERANCE) -> list[Recommendation]:
    """One recommendation per comparison set, each norm at its own best tuned setting, with every norm's
    stability record across learning rates (`rec.stability`)."""
    if groups.empty:
        return []
    return recommend_all(usable, lambda values, rows: set_label(values, rows, usable), level, margin, tolerance)


def tuned_lr_text(rec: Recommendation) -> str:
    """`batch at lr=0.1, layer at lr=0.01`: the setting each norm was compared at."""
    return ", ".join(f"{candidate.variant} at lr={candidate.lr:g}" for candidate in rec.candidates)


CSV_COLUMNS = ("norm", "decision", "statement", "decided_by", "tied", "equivalent", "chosen_lr", "chosen_optimizer",
               "selected_on", "note", "val_acc", "val_acc_ci_low", "val_acc_ci_high", "seeds", "runner_up", "margin",
               "margin_ci_low", "margin_ci_high", "test_acc", "test_acc_ci_low", "test_acc_ci_high",
               "divergence_share", "loss_volatility", "spike_rate", "seed_std_test_acc", "bn_eval_gap",
               "lr_window_low", "lr_window_high", "lr_window_decades", "grid_divergence_share",
               "smallest_diverging_lr", "steps_per_s", "relative_speed")


def recommendations_frame(recommendations_: list[Recommendation]) -> pd.DataFrame:
    """recommendations.csv: one row per comparison set, fractions as fractions (accuracy 0–1), intervals
    unclipped. `val_acc` is the deciding score (on test for old runs: `selected_on`); `test_*` only describe the
    chosen norm at its chosen setting."""
    rows = []
    for rec in recommendations_:
        pick = rec.pick
        score = mean_ci(pick.values[rec.metrics.score]) if pick else None
        test = mean_ci(pick.values.get(TEST_SCORE, [])) if pick else None
        stable = rec.stability.get(pick.variant) if pick else None
        rows.append({
            **rec.setting, "norm": rec.norm, "decision": rec.decision, "statement": rec.statement,
            "decided_by": rec.decided_by, "tied": ", ".join(rec.tied), "equivalent": ", ".join(rec.equivalent),
            "chosen_lr": pick.lr if pick else math.nan,
            "chosen_optimizer": pick.choice.best.tuned["optimizer"] if pick else None,
            "selected_on": rec.metrics.split, "note": rec.note,
            "val_acc": score.mean if score else math.nan, "val_acc_ci_low": score.low if score else math.nan,
            "val_acc_ci_high": score.high if score else math.nan, "seeds": score.n if score else 0,
            "runner_up": rec.runner_up, "margin": rec.margin, "margin_ci_low": rec.margin_low,
            "margin_ci_high": rec.margin_high,
            "test_acc": test.mean if test else math.nan, "test_acc_ci_low": test.low if test else math.nan,
            "test_acc_ci_high": test.high if test else math.nan,
            "divergence_share": pick.divergence_share if pick else math.nan,
            "loss_volatility": pick.mean("loss_volatility") if pick else math.nan,
            "spike_rate": pick.mean("spike_rate") if pick else math.nan,
            "seed_std_test_acc": seed_std(pick, "final_test_acc") if pick else math.nan,
            "bn_eval_gap": pick.mean("bn_eval_gap") if pick else math.nan,
            "lr_window_low": stable.window.low if stable else math.nan,
            "lr_window_high": stable.window.high if stable else math.nan,
            "lr_window_decades": stable.window.decades if stable else math.nan,
            "grid_divergence_share": stable.divergence_share if stable else math.nan,
            "smallest_diverging_lr": stable.smallest_diverging_lr if stable else math.nan,
            "steps_per_s": pick.mean("steps_per_s") if pick else math.nan,
            "relative_speed": relative_speed(rec),
        })
    columns = [column for column in COMPARISON if column != "optimizer_base"] + ["optimizer_base", *CSV_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def choices_frame(recommendations_: list[Recommendation]) -> pd.DataFrame:
    """recommendation_choices.csv: every norm of every comparison set at its chosen setting, with its stability
    record across learning rates (what the recommendation compared, one row per norm)."""
    rows = []
    for rec in recommendations_:
        for candidate in rec.candidates:
            stable = rec.stability[candidate.variant]
            score = mean_ci(candidate.values[rec.metrics.score])
            test = mean_ci(candidate.values.get(TEST_SCORE, []))
            rows.append({**rec.setting, "norm": candidate.variant, "chosen_lr": candidate.lr,
                         "chosen_optimizer": candidate.choice.best.tuned["optimizer"],
                         "chosen_optim_rest": candidate.choice.best.tuned["optim_rest"],
                         "lrs_tried": len(stable.lrs), "selected_on": rec.metrics.split, "val_acc": score.mean,
                         "val_acc_ci_low": score.low, "val_acc_ci_high": score.high, "test_acc": test.mean,
                         "lr_window_low": stable.window.low, "lr_window_high": stable.window.high,
                         "lr_window_decades": stable.window.decades,
                         "grid_divergence_share": stable.divergence_share,
                         "smallest_diverging_lr": stable.smallest_diverging_lr,
                         "expected_best_k1": stable.expected_best[0] if len(stable.expected_best) else math.nan,
                         "steps_per_s": candidate.mean("steps_per_s")})
    return pd.DataFrame(rows)


def seed_std(candidate: Candidate, column: str) -> float:
    values = candidate.values.get(column, np.array([]))
    return float(values.std(ddof=1)) if len(values) >= 2 else math.nan


def relative_speed(rec: Recommendation) -> float:
    """The pick's steps/s over the fastest candidate's in its set (1 = the fastest): shown, never decided on."""
    speeds = [candidate.mean("steps_per_s") for candidate in rec.candidates]
    fastest = max((speed for speed in speeds if np.isfinite(speed)), default=math.nan)
    if rec.pick is None or not np.isfinite(fastest) or fastest <= 0:
        return math.nan
    return rec.pick.mean("steps_per_s") / fastest
