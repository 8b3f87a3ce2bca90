"""What every figure is drawn from (PlotData), and what a figure builder returns: a Drawn figure, or a Skip."""

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from normbench.report.style import norm_order


@dataclass
class PlotData:
    usable: pd.DataFrame  # usable runs with their metric columns, `group` and `variant`
    groups: pd.DataFrame  # groups.group_table
    curves: dict  # run_id -> {"split/metric": (steps, values)}
    colours: dict  # norm -> colour, one map for the whole report
    smooth: float = 0.0  # TensorBoard smoothing weight for the drawn train-loss curves
    recommendations: list = field(default_factory=list)  # decide.recommend.Recommendation per comparison set

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
