"""A figure as a grid of panels laid out in inches.

Layout is fixed in inches (margins, panel size, gaps) rather than matplotlib's constrained layout, which
measures every text box and doubles the drawing time of a many-panel figure.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PANEL_W, PANEL_H = 4.2, 2.8  # inches
LEGEND_W = 1.9  # inches kept free on the right for the figure legend


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
        """The panel at `index`, counted row by row."""
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
