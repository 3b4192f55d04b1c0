"""Figures of training in steps: the validation confusion matrix at each snapshot step as
small multiples, and the one-line figure of a model without steps. Drawing only."""

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from digitwise.models.steps import StepHistory

if TYPE_CHECKING:
    from matplotlib.figure import Figure


MAX_COLUMNS = 4  # panels per row: more would make the figure too wide to read


MAX_WIDTH = 40.0  # inches (4,000 px): with many classes fewer panels fit in a row


HEADER = 1.2  # inches above the panels for the figure title (three lines)


# inches around each panel's grid, as heatmaps.py frames a single heatmap: tick and
# axis labels, the panel title, and the colorbar seaborn carves out of the axes
LEFT, RIGHT, BOTTOM, TOP = 1.0, 0.2, 0.9, 0.6


GRID_SHARE = 0.78  # of the axes width the grid keeps beside its colorbar


def snapshots_figure(
    history: StepHistory, classes: Sequence[str], model: str, scoring: str = ""
) -> "Figure":
    """One normalized confusion heatmap per snapshot step, at most MAX_COLUMNS per row,
    each titled "step N: accuracy X" ("step N (last): ..." for the final step).
    history.confusions: (n_snapshots, K, K)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from digitwise.figures import heatmaps

    # each panel as large as the single heatmap of K classes, so its numbers stay legible
    grid = heatmaps.layout(len(classes)).cell * len(classes)
    axes_width = grid / GRID_SHARE
    panel_width, panel_height = LEFT + axes_width + RIGHT, BOTTOM + grid + TOP
    count = len(history.snapshots)
    columns = min(count, MAX_COLUMNS, max(1, int(MAX_WIDTH // panel_width)))
    rows = math.ceil(count / columns)
    width, height = columns * panel_width, HEADER + rows * panel_height
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)  # seaborn measures labels; without a canvas that is slow
    figure.suptitle(
        f"{model}: validation confusion matrix after each snapshot step, normalized by true"
        " class (share / count)\nvalidation = the held-out split, for monitoring only"
        + (f"\n{scoring}" if scoring else ""),
        y=1 - 0.15 / height,
        va="top",
    )
    accuracy = history.snapshot_accuracy()
    for index, (step, counts) in enumerate(zip(history.snapshots, history.confusions, strict=True)):
        row, column = divmod(index, columns)
        left = column * panel_width + LEFT
        bottom = height - HEADER - (row + 1) * panel_height + BOTTOM
        ax = figure.add_axes((left / width, bottom / height, axes_width / width, grid / height))
        heatmaps.confusion_normalized_heatmap(counts, classes, ax=ax)
        # a requested step past the end was clipped to the last one: say it is the last
        last = " (last)" if step == history.n_steps else ""
        ax.set_title(f"step {step}{last}: accuracy {accuracy[index]:.3f}")
    return figure


def no_steps_figure(model: str) -> "Figure":
    """The figure for a model that does not train in steps: one line saying so."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 1))
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, f"{model} does not train in steps", ha="center", va="center")
    return figure
