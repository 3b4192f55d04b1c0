"""Drawing images and pixel maps: the conventions every pixel-level figure shares.

Digits are drawn dark on light (``gray_r``), at their true pixel grid, without
ticks. Signed maps (attributions, differences) use red for positive and blue for
negative on a scale symmetric around zero, so white is always exactly zero.
Drawing only: nothing here saves.
"""

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

SIGNED_CMAP = "RdBu_r"  # red = positive, blue = negative
IMAGE_CMAP = "gray_r"


def grid_figure(
    n_rows: int, n_cols: int, *, panel: float = 1.3, top: float = 0.5
) -> tuple[Figure, np.ndarray]:
    """A figure of n_rows x n_cols square panels (inches per panel), axes as a 2-D array."""
    figure = Figure(figsize=(n_cols * panel + 0.6, n_rows * panel + top + 0.2))
    FigureCanvasAgg(figure)  # measuring text needs a renderer; make it once
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    figure.subplots_adjust(
        left=0.3 / figure.get_figwidth(),
        right=1 - 0.3 / figure.get_figwidth(),
        bottom=0.1 / figure.get_figheight(),
        top=1 - top / figure.get_figheight(),
        wspace=0.25,
        hspace=0.45,
    )
    return figure, axes


def panel_grid_shape(n_panels: int) -> tuple[int, int]:
    """Rows and columns for n panels, as square as possible, wider than tall."""
    cols = math.ceil(math.sqrt(n_panels))
    return math.ceil(n_panels / cols), cols


def show_image(ax: Axes, image: np.ndarray, *, vmax: float, title: str | None = None) -> None:
    """An image of shape (height, width) with values 0..vmax."""
    ax.imshow(image, cmap=IMAGE_CMAP, vmin=0, vmax=vmax, interpolation="nearest")
    _bare(ax, title)


def show_signed(ax: Axes, values: np.ndarray, *, limit: float, title: str | None = None) -> None:
    """A signed map of shape (height, width), coloured on [-limit, +limit]."""
    ax.imshow(values, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
    _bare(ax, title)


def show_empty(ax: Axes, text: str) -> None:
    """A panel with nothing to show, saying why."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=8, transform=ax.transAxes)
    _bare(ax, None)
    for spine in ax.spines.values():
        spine.set_visible(False)


def symmetric_limit(values: np.ndarray) -> float:
    """The largest absolute finite value, or 1 where all are zero (an all-white map)."""
    finite = np.abs(values[np.isfinite(values)])
    largest = float(finite.max()) if finite.size else 0.0
    return largest if largest > 0 else 1.0


def signed_colorbar(figure: Figure, axes: np.ndarray, *, limit: float, label: str) -> None:
    """One colorbar for a group of signed panels, labelled with what the colour means."""
    mappable = ScalarMappable(norm=Normalize(-limit, limit), cmap=SIGNED_CMAP)
    colorbar = figure.colorbar(mappable, ax=list(np.ravel(axes)), shrink=0.8, pad=0.02)
    colorbar.set_label(label)


def _bare(ax: Axes, title: str | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)
