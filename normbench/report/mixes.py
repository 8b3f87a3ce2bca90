"""A network with a different norm per layer (e.g. the blog's `batch+layer`) against each of its parts run in
every layer (`batch`, `layer`), in the same setting: per metric, mean(mix) − mean(part) with its Welch interval.

Only settings where the mix and the part each ran one configuration are compared (as the claims do).
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from normbench.decide.stats import LEVEL, welch_contrast
from normbench.report.groups import SETTING, describe
from normbench.rundir.contract import mix_parts

MIX_METRICS = ("final_test_acc", "early_train_loss", "final_train_loss", "loss_volatility")


@dataclass(frozen=True)
class Effect:
    metric: str
    estimate: float  # mean(mix) − mean(part), in the metric's own units
    low: float  # NaN when either side has fewer than two seeds
    high: float

    @property
    def reading(self) -> str:
        """`higher` / `lower` when the interval excludes 0, `no difference shown` when it includes 0."""
        if not np.isfinite(self.low):
            return "no interval"
        return "higher" if self.low > 0 else "lower" if self.high < 0 else "no difference shown"


@dataclass(frozen=True)
class MixComparison:
    setting: str
    mix: str
    part: str
    effects: tuple  # Effect per MIX_METRICS entry the runs have


def effect(metric: str, mix: np.ndarray, part: np.ndarray, level: float = LEVEL) -> Effect:
    if len(mix) == 0 or len(part) == 0:
        return Effect(metric, math.nan, math.nan, math.nan)
    estimate = float(mix.mean() - part.mean())
    if len(mix) < 2 or len(part) < 2:
        return Effect(metric, estimate, math.nan, math.nan)
    contrast = welch_contrast([(mix, 1.0), (part, -1.0)], level)
    return Effect(metric, contrast.estimate, contrast.low, contrast.high)


def mix_comparisons(usable: pd.DataFrame, level: float = LEVEL) -> list[MixComparison]:
    """Every mix against each of its parts that ran in the same setting."""
    if usable.empty:
        return []
    metrics = [metric for metric in MIX_METRICS if metric in usable and usable[metric].notna().any()]
    shown = [column for column in SETTING if column != "experiment" or usable["experiment"].nunique() > 1]
    comparisons = []
    for key, runs in usable.groupby(list(SETTING), sort=True, dropna=False):
        configurations = runs.groupby("norm")["group_hash"].nunique()
        single = {norm for norm, count in configurations.items() if count == 1}
        for mix in sorted(norm for norm in single if mix_parts(norm)):
            for part in (part for part in mix_parts(mix) if part in single):
                values = {norm: runs[runs["norm"] == norm] for norm in (mix, part)}
                effects = tuple(effect(metric, _values(values[mix], metric), _values(values[part], metric), level)
                                for metric in metrics)
                comparisons.append(MixComparison(describe(dict(zip(SETTING, key)), shown), mix, part, effects))
    return comparisons


def _values(runs: pd.DataFrame, metric: str) -> np.ndarray:
    return runs[metric].dropna().to_numpy(dtype=np.float64)
