"""The confusion examples figure: one row per confusion cell, "this t ... was taken for
... this p", its misclassified images between an example of each class. Drawing only:
it returns a figure and never saves.
"""

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from digitwise.examples.selection import CellExamples, ClassExample
from digitwise.figures.images import show_empty, show_image

# Layout, in inches. A row is a header (the row title over two lines of panel titles)
# above a row of square panels; its size depends on cells and per_cell, never on K.
PANEL = 1.4
GAP = 0.2  # between panels of a row
ROW_HEADER = 0.75
MARGIN = 0.3
FIGURE_TITLE = 0.7  # the title and the legend beneath it
BOTTOM = 0.15
MISTAKE_COLOUR = "#d62728"  # red: a misclassified image
EXAMPLE_COLOUR = "#2ca02c"  # green: a correctly classified example of a class
LABEL_ERROR_COLOUR = "#9467bd"  # purple: the mark of a likely label error
FRAME_WIDTH = 2.5  # points
LEGEND = (
    "red frame: misclassified; green frame: a correctly classified example of the class\n"
    "possible label error: confident learning doubts the given label (label_issues.json)"
)


def _plural(count: int) -> str:
    return f"{count} sample" if count == 1 else f"{count} samples"


def row_title(cell: CellExamples, classes: Sequence[str]) -> str:
    """E.g. "true 8 → predicted 1: 7 samples, 4 shown, 2 possible label errors"."""
    title = f"true {classes[cell.true]} → predicted {classes[cell.predicted]}: "
    title += _plural(cell.count)
    if len(cell.rows) < cell.count:
        title += f", {len(cell.rows)} shown"
    if cell.n_label_errors:
        errors = cell.n_label_errors
        title += f", {errors} possible label error" + ("" if errors == 1 else "s")
    return title


def confusion_examples_figure(
    selected: Sequence[CellExamples],
    images: np.ndarray,
    classes: Sequence[str],
    *,
    pixel_max: int,
    per_cell: int,
) -> Figure:
    """One row per cell: [true-class example | mistakes ... | predicted-class example].

    ``images`` has shape (n_samples, height, width), aligned with the rows of the
    predictions that ``selected`` indexes. Each row holds its own mistakes and nothing
    else: the predicted-class example follows the last one, and the figure is as wide as
    its longest row (at most ``per_cell`` + 2 panels) whatever the number of classes.
    Mistakes are framed red, examples of a class correctly classified green; a mistake
    that is a likely label error (``cell.label_errors``) is marked so under its image.
    """
    if not selected:
        return _no_confusions_figure()
    n_rows = len(selected)
    n_cols = min(per_cell, max(len(cell.rows) for cell in selected)) + 2
    figure, axes = _rows_figure(n_rows, n_cols)
    figure.suptitle(
        "Most frequent confusions (held-out split)",
        fontsize=11,
        y=1 - 0.1 / figure.get_figheight(),
        va="top",
    )
    if any(cell.n_label_errors is not None for cell in selected):
        figure.text(
            0.5,
            1 - 0.34 / figure.get_figheight(),
            LEGEND,
            fontsize=7,
            ha="center",
            va="top",
        )
    for cell, row_axes in zip(selected, axes, strict=True):
        true_name, pred_name = classes[cell.true], classes[cell.predicted]
        shown = min(len(cell.rows), n_cols - 2)
        _draw_example(row_axes[0], cell.true_example, images, true_name, pixel_max)
        flags = cell.label_errors or (False,) * shown
        for ax, row, sample, proba, flagged in zip(
            row_axes[1 : 1 + shown], cell.rows, cell.samples, cell.proba, flags, strict=False
        ):
            title = f"p({pred_name}) = {proba:.2f}\nid {sample}"
            show_image(ax, images[row], vmax=pixel_max, title=title)
            _frame(ax, MISTAKE_COLOUR)
            if flagged:
                _mark_label_error(ax)
        _draw_example(row_axes[shown + 1], cell.predicted_example, images, pred_name, pixel_max)
        for ax in row_axes[shown + 2 :]:
            figure.delaxes(ax)  # no empty slot between the mistakes and the example
        _title_row(figure, row_axes, row_title(cell, classes))
    return figure


def _frame(ax: Axes, colour: str) -> None:
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(FRAME_WIDTH)


def _mark_label_error(ax: Axes) -> None:
    ax.text(
        0.5,
        -0.04,
        "possible label error",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=7,
        fontweight="bold",
        color=LABEL_ERROR_COLOUR,
    )


def _rows_figure(n_rows: int, n_cols: int) -> tuple[Figure, np.ndarray]:
    """n_rows x n_cols square panels with room above each row for its title."""
    width = 2 * MARGIN + n_cols * PANEL + (n_cols - 1) * GAP
    height = FIGURE_TITLE + n_rows * (ROW_HEADER + PANEL) + BOTTOM
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    figure.subplots_adjust(
        left=MARGIN / width,
        right=1 - MARGIN / width,
        bottom=BOTTOM / height,
        top=1 - (FIGURE_TITLE + ROW_HEADER) / height,
        wspace=GAP / PANEL,  # fractions of a panel
        hspace=ROW_HEADER / PANEL,
    )
    return figure, axes


def _title_row(figure: Figure, row_axes: np.ndarray, title: str) -> None:
    # Above the panel titles (two lines at 8 pt, about 0.35 in), left-aligned with the row.
    box = row_axes[0].get_position()
    y = box.y1 + 0.4 / figure.get_figheight()
    figure.text(box.x0, y, title, fontsize=10, fontweight="bold", ha="left", va="bottom")


def _draw_example(
    ax: Axes, example: ClassExample, images: np.ndarray, name: str, pixel_max: int
) -> None:
    if example.kind == "none":
        show_empty(ax, f"no {name} in the\nheld-out split")
        ax.set_title("none", fontsize=8)
        return
    correct = example.kind == "correct"
    label = f"correct {name}" if correct else f"any {name} (none correct)"
    title = f"{label}\nid {example.sample}, p({name}) = {example.proba:.2f}"
    show_image(ax, images[example.row], vmax=pixel_max, title=title)
    _frame(ax, EXAMPLE_COLOUR if correct else MISTAKE_COLOUR)


def _no_confusions_figure() -> Figure:
    figure = Figure(figsize=(5, 1.2))
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    show_empty(ax, "No confusions: every held-out sample is classified correctly")
    return figure
