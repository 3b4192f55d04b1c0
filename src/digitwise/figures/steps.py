"""Figures of training in steps: the held-out confusion matrix at each snapshot step
(an epoch, or a fit on a share of the training split) as small multiples. Drawing only.

The small multiples are sized for the report's column (about 1,000 px at the saved
dpi): two panels per row that share one colourbar, with class names on the left of
each row only, so each cell stays large enough for its share and count (0.4 in at
10 classes). Above ``MAX_ANNOTATED_CLASSES`` cells are colour only; above
``TWO_COLUMNS_UP_TO`` classes panels are one per row and grow to keep a pixel per cell.
"""

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from digitwise.models.steps import EPOCH, StepHistory

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from digitwise.metrics.ordering import ClassOrder

WIDTH = 10.0  # inches: 1,000 px, the report's column
# inches: class names and "Label" on the left; colourbar, its ticks and label on the right
LEFT, RIGHT, GAP = 0.8, 1.0, 0.3
TITLE, BOTTOM = 0.4, 0.65  # inches above each grid (its title) and below (names, "Prediction")
HEADER_LINE = 0.2  # inches per line of the figure title
TITLE_CHARACTERS = 115  # characters per line of the figure title at 10 pt across WIDTH
TWO_COLUMNS_UP_TO = 100  # classes
MIN_ANNOTATED_CELL = 0.3  # inches: smaller cells hold no share and count (colour only)
MAX_GRID = 14.0  # inches, one panel per row: a pixel per cell up to 1,400 classes
CMAP = "Blues"


def grid_and_columns(n_classes: int, count: int) -> tuple[float, int]:
    """(inches per panel grid, panels per row) for ``count`` panels of ``n_classes``."""
    if n_classes <= TWO_COLUMNS_UP_TO:
        return (WIDTH - LEFT - RIGHT - GAP) / 2, min(count, 2)
    return float(np.clip(n_classes / 100, WIDTH - LEFT - RIGHT, MAX_GRID)), 1


def snapshots_figure(
    history: StepHistory,
    classes: Sequence[str],
    model: str,
    note: str = "",
    *,
    order: "ClassOrder | None" = None,
) -> "Figure":
    """One normalized confusion matrix per snapshot step, two per row, one colourbar.

    Each panel is titled with its step and held-out accuracy: "epoch N: accuracy X"
    ("epoch N (last): ..." for the final epoch), or "S samples (F%): accuracy X" on a
    learning curve. ``note`` (what was fitted and scored) ends the figure title.
    history.confusions: (n_snapshots, K, K) counts.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_classes, count = len(classes), len(history.snapshots)
    grid, columns = grid_and_columns(n_classes, count)
    rows = -(-count // columns)
    title = _figure_title(history, model, note, order.note if order is not None else "")
    header = 0.15 + HEADER_LINE * (title.count("\n") + 1)
    row_height = TITLE + grid + BOTTOM
    width = LEFT + columns * grid + (columns - 1) * GAP + RIGHT
    height = header + rows * row_height
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)  # texts measured with one renderer
    figure.suptitle(title, x=LEFT / width, ha="left", y=1 - 0.1 / height, va="top", fontsize=10)
    accuracy = history.snapshot_accuracy()
    mappable = None
    names = classes if order is None else order.names(classes)
    for index, counts in enumerate(history.confusions):
        counts = counts if order is None else order.apply(counts)
        row, column = divmod(index, columns)
        left = LEFT + column * (grid + GAP)
        bottom = height - header - row * row_height - TITLE - grid
        ax = figure.add_axes((left / width, bottom / height, grid / width, grid / height))
        mappable = _panel(ax, counts, names, grid / n_classes, first_column=column == 0)
        ax.set_title(_panel_title(history, index, accuracy[index]), fontsize=9)
    if mappable is not None:
        # beside the first row, 80% of its height, as seaborn places a heatmap's
        left, bottom = width - RIGHT + 0.2, height - header - TITLE - 0.9 * grid
        cax = figure.add_axes((left / width, bottom / height, 0.15 / width, 0.8 * grid / height))
        colorbar = figure.colorbar(mappable, cax=cax, label="share of the true class")
        colorbar.outline.set_linewidth(0)
        cax.tick_params(labelsize=8)
    return figure


def _figure_title(history: StepHistory, model: str, note: str, order_note: str) -> str:
    if history.kind == EPOCH:
        head = f"{model}: held-out confusion matrix after each snapshot epoch"
    else:
        head = f"{model}: held-out confusion matrix as the model is fitted on more training data"
    tail = "normalized by true class (share / count); the held-out split is for monitoring only"
    tail = f"{tail}; {order_note}" if order_note else tail
    return "\n".join([head, tail, *textwrap.wrap(note, TITLE_CHARACTERS)])


def _panel_title(history: StepHistory, index: int, accuracy: float) -> str:
    step = history.snapshots[index]
    if history.kind == EPOCH:
        # a requested step past the end was clipped to the last one: say it is the last
        last = " (last)" if step == history.n_steps else ""
        return f"epoch {step}{last}: accuracy {accuracy:.3f}"
    samples = int(history.train_samples[step - 1])
    return f"{samples} samples ({100 * history.fractions[step - 1]:g}%): accuracy {accuracy:.3f}"


def _panel(ax: "Axes", counts: np.ndarray, classes: Sequence[str], cell: float, *, first_column):
    """A (K, K) count matrix as shares of each true class on ``ax``, rows top to bottom;
    with each nonzero cell's share and count when cells are large enough."""
    from digitwise.figures import heatmaps
    from digitwise.figures.class_labels import label_classes

    n = len(classes)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals != 0)
    annotate = cell >= MIN_ANNOTATED_CELL
    if annotate:  # seaborn's look, as heatmaps.py draws it: white lines between cells
        mappable = ax.pcolormesh(
            shares, cmap=CMAP, vmin=0, vmax=1, linewidths=0.5, edgecolor="white"
        )
        ax.set(xlim=(0, n), ylim=(n, 0), aspect="equal")
        mappable.update_scalarmappable()
        font = float(np.clip(cell * 18, 5, 8))
        for (row, column), face in zip(np.ndindex(n, n), mappable.get_facecolors(), strict=True):
            if counts[row, column]:
                ax.text(
                    column + 0.5,
                    row + 0.5,
                    f"{shares[row, column]:.2f}\n{counts[row, column]}",
                    color=".15" if heatmaps._luminance(face) > 0.408 else "w",
                    ha="center",
                    va="center",
                    fontsize=font,
                    linespacing=1.1,
                )
    else:  # colour only; nearest-neighbour, so with a pixel per cell every cell shows
        mappable = ax.imshow(
            shares, cmap=CMAP, vmin=0, vmax=1, extent=(0, n, n, 0), interpolation="nearest"
        )
    for spine in ax.spines.values():
        spine.set_visible(False)
    label_classes(ax, classes, float(np.clip(cell * 20, 6, 9)))
    ax.set_xlabel("Prediction", fontsize=9)
    if first_column:
        ax.set_ylabel("Label", fontsize=9)
    else:  # the row's first panel names the classes for all of it
        ax.tick_params(axis="y", labelleft=False)
    return mappable
