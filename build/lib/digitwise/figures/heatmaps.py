"""Seaborn heatmaps of the evaluation matrices. Drawing only: nothing here saves.

Each function takes the matrix, the ordered class names and an optional ``ax``,
and returns the figure. Without an ``ax`` it makes a ``matplotlib.figure.Figure``
(no pyplot, so no global state and no GUI backend) sized for the number of
classes: cells keep a readable size, numbers shrink with the cells and are left
out when cells get too small to hold them.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from digitwise.metrics.classification import normalize_confusion

# Above this many classes the per-cell numbers would be unreadable: colour only.
MAX_ANNOTATED_CLASSES = 40


@dataclass(frozen=True)
class Layout:
    cell: float  # inches per cell
    font: float  # points, for the numbers in the cells
    tick_font: float  # points, for the class names
    annotate: bool


def layout(n_classes: int) -> Layout:
    # a grid of at least 3 in (a 2x2 matrix must still hold its title), 0.6 in cells up
    # to 12 classes, then a grid of about 12 in (0.43 in at 28 classes)
    cell = max(0.6, 3 / n_classes) if n_classes <= 12 else max(0.16, 12 / n_classes)
    return Layout(
        cell=cell,
        font=float(np.clip(cell * 16, 5, 10)),
        tick_font=float(np.clip(cell * 18, 6, 10)),
        annotate=n_classes <= MAX_ANNOTATED_CLASSES,
    )


def _figure_and_axes(n_classes: int, ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(), ax
    grid = layout(n_classes).cell * n_classes
    # inches around the grid: tick and axis labels, the title, and on the right the
    # colorbar, which seaborn carves out of the axes (15% of their width, plus a gap)
    left, right, bottom, top = 1.0, 0.2, 0.9, 0.6
    axes_width = grid / 0.78
    figure = Figure(figsize=(left + axes_width + right, bottom + grid + top))
    # An Agg canvas up front: seaborn measures tick labels, and a figure without a
    # canvas makes a new renderer for every label (8 s at 100 classes instead of 0.3 s).
    FigureCanvasAgg(figure)
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height
    )
    return figure, figure.add_subplot()


def draw_matrix(
    matrix: np.ndarray,
    classes: Sequence[str],
    ax: Axes | None,
    *,
    annotations: np.ndarray,
    cmap: str,
    vmin: float,
    vmax: float,
    colorbar_label: str,
    title: str,
    xlabel: str,
    ylabel: str,
) -> Figure:
    figure, ax = _figure_and_axes(len(classes), ax)
    style = layout(len(classes))
    sns.heatmap(
        matrix,
        ax=ax,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        annot=annotations if style.annotate else False,
        fmt="",
        annot_kws={"fontsize": style.font},
        square=True,
        linewidths=0.5 if len(classes) <= MAX_ANNOTATED_CLASSES else 0,
        linecolor="white",
        xticklabels=list(classes),
        yticklabels=list(classes),
        cbar_kws={"label": colorbar_label, "shrink": 0.8},
    )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="both", labelsize=style.tick_font, length=0)
    # Upright names while they fit in a cell (about 0.6 em per character).
    widest = max(len(name) for name in classes) * style.tick_font * 0.6 / 72
    ax.tick_params(axis="x", labelrotation=90 if widest > style.cell else 0)
    ax.tick_params(axis="y", labelrotation=0)
    return figure


def confusion_counts_heatmap(
    counts: np.ndarray, classes: Sequence[str], *, ax: Axes | None = None
) -> Figure:
    """Counts of shape (n_classes, n_classes): rows are true labels, columns predictions."""
    return draw_matrix(
        counts,
        classes,
        ax,
        annotations=counts.astype(str),
        cmap="Blues",
        vmin=0,
        vmax=max(int(counts.max()), 1),
        colorbar_label="samples",
        title=f"Confusion matrix ({int(counts.sum())} samples)",
        xlabel="Prediction",
        ylabel="Label",
    )


def confusion_normalized_heatmap(
    counts: np.ndarray, classes: Sequence[str], *, ax: Axes | None = None
) -> Figure:
    """Colour = share of the true class; each cell shows the share and, below it, the count."""
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals != 0)
    annotations = np.array(
        [
            [
                f"{share:.2f}\n{count}" if count else ""
                for share, count in zip(row_s, row_c, strict=True)
            ]
            for row_s, row_c in zip(shares, counts, strict=True)
        ]
    )
    return draw_matrix(
        shares,
        classes,
        ax,
        annotations=annotations,
        cmap="Blues",
        vmin=0,
        vmax=1,
        colorbar_label="share of the true class",
        title="Confusion matrix, normalized by true class (share / count)",
        xlabel="Prediction",
        ylabel="Label",
    )


def pairwise_accuracy_heatmap(
    accuracy: np.ndarray, classes: Sequence[str], *, ax: Axes | None = None
) -> Figure:
    """Pairwise accuracy in 0..1, red = low to blue = high; NaN cells stay blank.

    The axes are digit_a and digit_b for digit classes, class_a and class_b otherwise.
    """
    xlabel, ylabel = pair_axis_names(classes)
    annotations = np.array([[f"{value:.2f}" for value in row] for row in accuracy])
    return draw_matrix(
        accuracy,
        classes,
        ax,
        annotations=annotations,
        cmap="RdBu",
        vmin=0,
        vmax=1,
        colorbar_label="pairwise accuracy (diagonal: recall)",
        title="Pairwise accuracy: true class ranked above the other",
        xlabel=xlabel,
        ylabel=ylabel,
    )


def pair_axis_names(classes: Sequence[str]) -> tuple[str, str]:
    """(x, y) axis names of a class-pair matrix: digit_b/digit_a for digits, else class_*."""
    noun = "digit" if all(name.isdecimal() for name in classes) else "class"
    return f"{noun}_b", f"{noun}_a"


def confusion_delta_heatmap(
    counts_new: np.ndarray, counts_base: np.ndarray, classes: Sequence[str], *, ref: str
) -> Figure:
    """New minus baseline confusion matrix normalized by true class, both (K, K) counts.

    RdBu_r centred at zero with symmetric limits: red = the new model puts more of the
    true class in that cell, blue = less. On the diagonal red is therefore better; off
    it, red is a mistake made more often. Changed cells show the share and count
    changes ("+0.04" over "+2"); unchanged cells are blank.
    """
    delta = normalize_confusion(counts_new, normalize="true") - normalize_confusion(
        counts_base, normalize="true"
    )
    change = counts_new.astype(np.int64) - counts_base
    annotations = np.array(
        [
            [f"{d:+.2f}\n{c:+d}" if c else "" for d, c in zip(row_d, row_c, strict=True)]
            for row_d, row_c in zip(delta, change, strict=True)
        ]
    )
    # at least +-0.01, so identical predictions still get a valid, centred colour scale
    limit = max(float(np.abs(delta).max()), 0.01)
    return draw_matrix(
        delta,
        classes,
        None,
        annotations=annotations,
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        colorbar_label="new \N{MINUS SIGN} baseline share of the true class",
        title=f"Confusion change vs {ref}\n(share of the true class / count; red = more)",
        xlabel="Prediction",
        ylabel="Label",
    )


# --- the Markdown summary ---------------------------------------------------------------
