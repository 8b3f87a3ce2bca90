"""Words and legend entries shared by the figures: panel titles, colour = norm, line style = the rest."""

import textwrap

import pandas as pd
from matplotlib.lines import Line2D

from normbench.report.groups import describe
from normbench.report.plots.data import PlotData
from normbench.report.style import LINESTYLES, SETTING_MARKERS, norm_order

LINE = ("optimizer", "lr")  # told apart by line style inside a panel
PLAIN = "single config."  # the line of a panel whose curves differ by norm only


def panel_title(data: PlotData, values: dict, shown) -> str:
    """The setting in words; the experiment only when the report spans several."""
    return describe(values, [column for column in shown if column != "experiment" or data.experiment_varies])


def norm_handles(data: PlotData, norms) -> list:
    """Legend entries: one colour per norm, in the report's norm order."""
    return [Line2D([], [], color=data.colours[norm], lw=2.5, label=norm) for norm in norm_order(norms)]


def line_styles(groups: pd.DataFrame) -> tuple[dict, list]:
    """Within a figure, colour = norm and line style = what else differs between curves of one panel
    (optimizer, learning rate, or another configuration of the norm): group -> style, legend handles."""
    labels = _line_labels(groups)
    # The plain case (nothing else differs) draws solid and is listed first.
    distinct = sorted(set(labels.values()), key=lambda label: (label != PLAIN, label))
    styles = {label: _style(index) for index, label in enumerate(distinct)}
    handles = [Line2D([], [], color="0.3", lw=1.4, label=label, **styles[label]) for label in distinct
               ] if len(distinct) > 1 else []
    return {group: styles[label] for group, label in labels.items()}, handles


def _line_labels(groups: pd.DataFrame) -> dict:
    """group -> what tells its curve apart from the other curves of its norm (PLAIN when nothing does)."""
    shown = [column for column in LINE if groups[column].nunique() > 1]
    labels = {}
    for row in groups.itertuples(index=False):
        suffix = row.variant[len(row.norm):].strip()  # "#hash" for a second configuration of a norm
        labels[row.group] = " ".join(part for part in (describe(row._asdict(), shown), suffix) if part)
    return {group: label or PLAIN for group, label in labels.items()}


def _style(index: int) -> dict:
    """The index-th line style; past the plain styles, markers tell the lines apart."""
    return {"linestyle": LINESTYLES[index % len(LINESTYLES)],
            "marker": None if index < len(LINESTYLES) else SETTING_MARKERS[index // len(LINESTYLES) - 1],
            "markevery": 0.1}


def wrap(text: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(text, width))


def file_safe(text: str) -> str:
    return "".join(character if character.isalnum() or character in "-_." else "-" for character in str(text))
